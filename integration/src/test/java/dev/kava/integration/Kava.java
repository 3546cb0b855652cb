package dev.kava.integration;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the real {@code ./kava} launcher of this checkout as a user would, and captures what it prints. */
final class Kava {
    static final Path HOME = findHome();

    record Result(int status, String stdout, String stderr) {
        @Override
        public String toString() {
            return "exit " + status + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
        }
    }

    private static Path findHome() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("kava"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("cannot find the kava launcher above " + Path.of("").toAbsolutePath());
        return p;
    }

    static ProcessBuilder builder(List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(HOME.resolve("kava").toString());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(HOME.toFile());
        pb.environment().remove("KAVA_DEBUG");
        return pb;
    }

    static Result run(List<String> args, byte[] stdin, long timeoutSeconds, Map<String, String> env) throws Exception {
        ProcessBuilder pb = builder(args);
        pb.environment().putAll(env);
        if (stdin == null) pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        var out = drain(p.getInputStream());
        var err = drain(p.getErrorStream());
        if (stdin != null) {
            try (var in = p.getOutputStream()) {
                in.write(stdin);
            }
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor();
            throw new AssertionError("kava " + args + " did not finish within " + timeoutSeconds + " s\n" + text(out) + "\n" + text(err));
        }
        out.join();
        err.join();
        return new Result(p.exitValue(), text(out), text(err));
    }

    /** A kava process started in the background, with what it printed so far. */
    record Running(Process process, Drain out, Drain err) {}

    /** Starts kava and waits until its stdout contains {@code marker} (the container is up). */
    static Running startAndAwait(List<String> args, String marker) throws Exception {
        ProcessBuilder pb = builder(args);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        Running r = new Running(p, drain(p.getInputStream()), drain(p.getErrorStream()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!text(r.out()).contains(marker) && System.nanoTime() < deadline && p.isAlive()) Thread.sleep(50);
        if (!text(r.out()).contains(marker)) {
            p.destroyForcibly();
            throw new AssertionError("kava " + args + " never printed " + marker + "\n" + text(r.err()));
        }
        return r;
    }

    static Result run(String... args) throws Exception {
        return run(List.of(args), null, 120, Map.of());
    }

    static final class Drain extends Thread {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final InputStream in;

        Drain(InputStream in) {
            this.in = in;
        }

        @Override
        public void run() {
            try {
                in.transferTo(bytes);
            } catch (IOException e) {
                // process gone
            }
        }
    }

    static Drain drain(InputStream in) {
        Drain d = new Drain(in);
        d.setDaemon(true);
        d.start();
        return d;
    }

    static String text(Drain d) {
        synchronized (d.bytes) {
            return d.bytes.toString(StandardCharsets.UTF_8);
        }
    }

    /** Sandboxes and QEMU processes a test may have left: must be none after each test. */
    /** The sandbox ids one test class hands out, so that each can be checked for leftovers after a test. */
    static final class Ids {
        private final String prefix;
        private final List<String> used = new ArrayList<>();

        Ids(String prefix) {
            this.prefix = prefix;
        }

        /** A new id, {@code <prefix>-<8 hex digits>}. */
        String next() {
            String id = prefix + "-" + java.util.UUID.randomUUID().toString().substring(0, 8);
            used.add(id);
            return id;
        }

        /** Asserts that no sandbox handed out so far left a state directory, process or mount. */
        void assertNothingLeft() throws IOException {
            for (String id : used) {
                org.junit.jupiter.api.Assertions.assertEquals(List.of(), leftovers(id), "sandbox " + id + " left something behind");
            }
        }
    }

    static List<String> leftovers(String id) throws IOException {
        List<String> found = new ArrayList<>();
        Path state = Path.of("/run/kava", id);
        if (Files.exists(state)) found.add("state directory " + state);
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.toList()) {
                if (!p.getFileName().toString().chars().allMatch(Character::isDigit)) continue;
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8).replace('\0', ' ');
                    if (cmd.contains("qemu-system") && cmd.contains("/run/kava/" + id + "/")) found.add("qemu process " + p.getFileName() + ": " + cmd);
                } catch (IOException e) {
                    // exited meanwhile
                }
            }
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            if (line.contains("/run/kava/" + id + "/")) found.add("mount " + line);
        }
        return found;
    }
}
