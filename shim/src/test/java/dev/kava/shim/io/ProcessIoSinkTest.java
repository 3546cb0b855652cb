package dev.kava.shim.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Fd;
import dev.kava.linux.OpenFlags;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where a process's output goes when containerd gives a FIFO: the client on the other end may be gone
 * already ({@code ctr task exec -d} exits as soon as Start answers), and the shim must never block on
 * it, or the process's exit would never be published.
 */
class ProcessIoSinkTest {
    private static Path fifo(Path dir) throws Exception {
        Path p = dir.resolve("stdout");
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertEquals(0, mk.waitFor());
        return p;
    }

    @Test
    void withoutAReaderTheSinkFailsAtOnce(@TempDir Path dir) throws Exception {
        Path p = fifo(dir);
        IOException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(IOException.class, () -> ProcessIo.openSink(p.toString())));
        assertTrue(e.getMessage().contains("ENXIO") || e.getMessage().contains("No such device"), e.getMessage());
    }

    @Test
    void bytesReachTheReaderAndAReaderThatLeavesEndsTheSinkWithoutBlocking(@TempDir Path dir) throws Exception {
        Path p = fifo(dir);
        Fd reader = Fd.open(p.toString(), OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0);
        OutputStream sink = ProcessIo.openSink(p.toString());
        try {
            sink.write("abc".getBytes(StandardCharsets.UTF_8), 0, 3);
            byte[] got = new byte[3];
            assertEquals(3, reader.read(got, 0, 3));
            assertArrayEquals("abc".getBytes(StandardCharsets.UTF_8), got);

            reader.close();   // the client went away
            IOException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                    () -> assertThrows(IOException.class, () -> sink.write(new byte[4096], 0, 4096)));
            assertTrue(e.getMessage().contains("EPIPE") || e.getMessage().contains("Broken pipe"), e.getMessage());
        } finally {
            sink.close();
            reader.close();
        }
    }

    @Test
    void aFileSinkAppends(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("sub/log");
        try (OutputStream s = ProcessIo.openSink("file://" + f)) {
            s.write("one\n".getBytes(StandardCharsets.UTF_8));
        }
        try (OutputStream s = ProcessIo.openSink(f.toString())) {
            s.write("two\n".getBytes(StandardCharsets.UTF_8));
        }
        assertEquals("one\ntwo\n", Files.readString(f));
    }
}
