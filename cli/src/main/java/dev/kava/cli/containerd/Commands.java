package dev.kava.cli.containerd;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a command to completion with its output captured whole and its stdin fed from a stream. */
final class Commands {
    private static final long DRAIN_GRACE_MS = 5_000;

    private Commands() {}

    /**
     * Runs {@code command}; {@code stdin} (null: /dev/null) is copied to it on a thread of its own while
     * stdout and stderr are read on two others, so no pipe fills up whatever the sizes.
     *
     * @throws ContainerdException when it cannot start or has not exited after {@code timeout} (it is
     *                             then killed; the message has what it printed so far)
     */
    static CommandResult run(List<String> command, Map<String, String> env, InputStream stdin, Duration timeout) {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        if (stdin == null) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new ContainerdException("cannot run " + String.join(" ", command) + ": " + e.getMessage(), e);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread outReader = copy(p.getInputStream(), out, true);
        Thread errReader = copy(p.getErrorStream(), err, true);
        Thread writer = stdin == null ? null : copy(stdin, p.getOutputStream(), false);
        try {
            boolean exited = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!exited) {
                p.destroyForcibly();
                p.waitFor(DRAIN_GRACE_MS, TimeUnit.MILLISECONDS);
            }
            outReader.join(DRAIN_GRACE_MS);
            errReader.join(DRAIN_GRACE_MS);
            if (writer != null) {
                writer.interrupt();
            }
            CommandResult r = new CommandResult(command, exited ? p.exitValue() : -1, bytes(out), bytes(err));
            if (!exited) {
                throw new ContainerdException("did not finish within " + timeout.toMillis() + " ms, killed: " + r);
            }
            return r;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ContainerdException("interrupted while running " + String.join(" ", command), e);
        }
    }

    /** The first executable {@code name} on this process's PATH, else {@code fallback}. */
    static String which(String name, String fallback) {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                if (dir.isEmpty()) {
                    continue;
                }
                Path candidate = Path.of(dir, name);
                if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                    return candidate.toString();
                }
            }
        }
        return fallback;
    }

    private static byte[] bytes(ByteArrayOutputStream b) {
        synchronized (b) {
            return b.toByteArray();
        }
    }

    /** Copies on a virtual thread; a process's output stream is closed at the end, a caller's stdin is not. */
    private static Thread copy(InputStream from, OutputStream to, boolean fromProcess) {
        return Thread.ofVirtual().start(() -> {
            byte[] buf = new byte[1 << 16];
            try {
                for (int n; (n = from.read(buf)) >= 0; ) {
                    if (to instanceof ByteArrayOutputStream b) {
                        synchronized (b) {
                            b.write(buf, 0, n);
                        }
                    } else {
                        to.write(buf, 0, n);
                    }
                }
            } catch (IOException e) {
                // the process exited or closed its end: what was read so far is the result
            } finally {
                try {
                    (fromProcess ? from : to).close();   // to the process: EOF on its stdin
                } catch (IOException e) {
                    // broken pipe: the process stopped reading
                }
            }
        });
    }

    /** Reads a small file, null if it does not exist. */
    static String readOrNull(Path file) {
        try {
            return Files.readString(file);
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
