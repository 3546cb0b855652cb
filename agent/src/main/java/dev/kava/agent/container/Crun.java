package dev.kava.agent.container;

import dev.kava.agent.AgentErrors;
import dev.kava.agent.process.ChildProcesses;
import dev.kava.ttrpc.TtrpcException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The crun command line: {@code crun --root R [--log L] <command> ...}. */
public final class Crun {
    private static final Pattern TIMESTAMP = Pattern.compile("^\\d{4}-\\d\\d-\\d\\dT\\S*:\\s+");
    private static final Pattern NOT_FOUND = Pattern.compile("executable file `([^`]*)` not found");

    private final Path binary;
    private final Path root;
    private final ChildProcesses children;

    public Crun(Path binary, Path root, ChildProcesses children) {
        this.binary = binary;
        this.root = root;
        this.children = children;
    }

    /** What a crun run left: its exit code and its output (stdout and stderr together). */
    public record Result(int exit, String output) {
        public boolean ok() {
            return exit == 0;
        }
    }

    /** The full command: binary, global options, then {@code args}. {@code log} may be null. */
    public List<String> command(Path log, String... args) {
        List<String> cmd = new ArrayList<>(args.length + 4);
        cmd.add(binary.toString());
        cmd.add("--root");
        cmd.add(root.toString());
        if (log != null) {
            cmd.add("--log=" + log);
        }
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Runs a crun command that does not hand its stdio to a container, and waits for it. */
    public Result run(String... args) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command(null, args)).redirectErrorStream(true);
        Process p = children.start(pb);
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        int exit = p.waitFor();
        return new Result(exit, new String(out, StandardCharsets.UTF_8).strip());
    }

    /** Runs a crun command and throws INTERNAL (or NOT_FOUND) with crun's message if it fails. */
    public void check(String id, String... args) throws Exception {
        Result r = run(args);
        if (!r.ok()) {
            throw failure(args[0], id, r.exit(), r.output(), null);
        }
    }

    /** Spawns a crun command with a prepared ProcessBuilder (stdio already redirected). */
    public Process spawn(ProcessBuilder pb) throws TtrpcException {
        try {
            return children.start(pb);
        } catch (IOException e) {
            throw AgentErrors.internal("cannot run " + binary + ": " + e.getMessage(), e);
        }
    }

    /**
     * The error for a failed crun command: crun's own message (from its log file, else its
     * output), NOT_FOUND when the container's executable does not exist.
     */
    public static TtrpcException failure(String what, String id, int exit, String output, Path log) {
        String msg = message(output, log);
        if (msg.isEmpty()) {
            msg = "exit status " + exit;
        }
        String text = "crun " + what + " " + id + ": " + msg;
        return missingExecutable(msg) != null ? AgentErrors.notFound(text) : AgentErrors.internal(text);
    }

    /** The missing executable a crun message names ("executable file `foo` not found"), or null. */
    public static String missingExecutable(String message) {
        Matcher m = NOT_FOUND.matcher(message);
        return m.find() ? m.group(1) : null;
    }

    /** The last meaningful line crun wrote: its log file first, then its output. */
    public static String message(String output, Path log) {
        String fromLog = "";
        if (log != null) {
            try {
                fromLog = lastLine(Files.readString(log, StandardCharsets.UTF_8));
            } catch (IOException e) {
                // no log written
            }
        }
        return fromLog.isEmpty() ? lastLine(output == null ? "" : output) : fromLog;
    }

    static String lastLine(String text) {
        String[] lines = text.strip().split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            String l = lines[i].strip();
            if (!l.isEmpty()) {
                if (l.startsWith("{") && l.contains("\"msg\"")) {
                    int s = l.indexOf("\"msg\"");
                    int q = l.indexOf('"', l.indexOf(':', s) + 1);
                    int e = l.indexOf('"', q + 1);
                    if (q > 0 && e > q) {
                        return l.substring(q + 1, e);
                    }
                }
                return TIMESTAMP.matcher(l).replaceFirst("");
            }
        }
        return "";
    }
}
