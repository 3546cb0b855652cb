package dev.kava.agent.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.agent.process.ChildProcesses;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The stdio crun create gets, exercised with a shell in crun's place. */
@Timeout(60)
class ProcessStdioTest {
    private final ChildProcesses children = new ChildProcesses();

    @TempDir
    Path tmp;

    @AfterEach
    void close() {
        children.close();
    }

    private Process spawn(ProcessStdio stdio, String script) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", script);
        stdio.redirect(pb);
        Process p = children.start(pb);
        stdio.started();
        return p;
    }

    private static byte[] drain(OutputBuffer b, long pauseEveryBytes) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long sincePause = 0;
        for (byte[] chunk = b.take(32 * 1024); chunk.length > 0; chunk = b.take(32 * 1024)) {
            assertTrue(b.available() <= ProcessStdio.BUFFER_BYTES);
            out.write(chunk);
            sincePause += chunk.length;
            if (pauseEveryBytes > 0 && sincePause >= pauseEveryBytes) {
                Thread.sleep(5);
                sincePause = 0;
            }
        }
        return out.toByteArray();
    }

    @Test
    void stdin_reaches_the_child_and_stdout_and_stderr_come_back_byte_exact_until_eof() throws Exception {
        byte[] input = new byte[3 * 1024 * 1024 + 17];
        new Random(1).nextBytes(input);
        try (ProcessStdio stdio = ProcessStdio.pipes("t")) {
            Process p = spawn(stdio, "cat; echo err >&2");
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    for (int off = 0; off < input.length; off += 100_000) {
                        byte[] part = java.util.Arrays.copyOfRange(input, off, Math.min(input.length, off + 100_000));
                        assertEquals(part.length, stdio.stdin().write(part));
                    }
                    stdio.stdin().close();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            byte[] out = drain(stdio.stdout(), 0);
            writer.join();
            assertArrayEquals(input, out);
            assertEquals("err\n", new String(drain(stdio.stderr(), 0), StandardCharsets.UTF_8));
            assertEquals(0, stdio.stdout().take(10).length, "EOF stays EOF");
            assertEquals(0, p.waitFor());
        }
    }

    @Test
    void a_writer_that_outpaces_the_reader_is_held_back_and_loses_nothing() throws Exception {
        byte[] data = new byte[8 * 1024 * 1024];
        new Random(2).nextBytes(data);
        Path file = Files.write(tmp.resolve("data"), data);
        try (ProcessStdio stdio = ProcessStdio.pipes("t")) {
            Process p = spawn(stdio, "cat " + file + "; echo done >&2");
            Thread.sleep(300); // let the child run ahead: it must block, not lose bytes
            assertTrue(p.isAlive(), "the child is held back by the full buffer and pipe");
            assertTrue(stdio.stdout().available() <= ProcessStdio.BUFFER_BYTES);
            byte[] out = drain(stdio.stdout(), 512 * 1024);
            assertEquals(data.length, out.length);
            assertArrayEquals(data, out);
            assertEquals("done\n", new String(drain(stdio.stderr(), 0), StandardCharsets.UTF_8));
            assertEquals(0, p.waitFor());
        }
    }

    @Test
    void eof_arrives_when_the_last_holder_of_the_pipe_exits_not_when_the_spawned_child_does() throws Exception {
        try (ProcessStdio stdio = ProcessStdio.pipes("t")) {
            // the shell exits at once, as crun create does; its background child keeps stdout
            Process p = spawn(stdio, "(sleep 0.5; echo late) &");
            assertEquals(0, p.waitFor());
            byte[] first = stdio.stdout().take(100);
            assertEquals("late\n", new String(first, StandardCharsets.UTF_8));
            assertEquals(0, stdio.stdout().take(100).length);
        }
    }

    @Test
    void writing_after_close_stdin_is_refused() throws Exception {
        try (ProcessStdio stdio = ProcessStdio.pipes("t")) {
            Process p = spawn(stdio, "cat >/dev/null");
            stdio.stdin().close();
            assertEquals(0, p.waitFor());
            var e = org.junit.jupiter.api.Assertions.assertThrows(dev.kava.ttrpc.TtrpcException.class,
                    () -> stdio.stdin().write(new byte[] {1}));
            assertEquals(dev.kava.ttrpc.Code.FAILED_PRECONDITION, e.code());
        }
    }
}
