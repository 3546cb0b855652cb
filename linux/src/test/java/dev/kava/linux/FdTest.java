package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FdTest {
    @Test
    void pipeCarriesBytesAndReadReturnsMinusOneAtEof() {
        try (Pipe p = Pipe.open()) {
            byte[] msg = "hello kava".getBytes(StandardCharsets.UTF_8);
            p.writeEnd().writeFully(msg, 0, msg.length);
            p.writeEnd().close();
            byte[] buf = new byte[64];
            int n = p.readEnd().read(buf, 0, buf.length);
            assertEquals(msg.length, n);
            assertArrayEquals(msg, java.util.Arrays.copyOf(buf, n));
            assertEquals(-1, p.readEnd().read(buf, 0, buf.length));
        }
    }

    @Test
    void pipeEndsAreCloseOnExec() {
        try (Pipe p = Pipe.open()) {
            assertTrue(p.readEnd().isCloexec());
            assertTrue(p.writeEnd().isCloexec());
            p.writeEnd().setCloexec(false);
            assertFalse(p.writeEnd().isCloexec());
        }
    }

    @Test
    void readIntoDirectAndHeapByteBuffers() {
        try (Pipe p = Pipe.open()) {
            p.writeEnd().writeFully(new byte[] {1, 2, 3, 4, 5}, 0, 5);
            ByteBuffer direct = ByteBuffer.allocateDirect(3);
            assertEquals(3, p.readEnd().read(direct));
            assertEquals(3, direct.position());
            ByteBuffer heap = ByteBuffer.allocate(8);
            assertEquals(2, p.readEnd().read(heap));
            assertEquals(1, direct.get(0));
            assertEquals(4, heap.get(0));
            assertEquals(5, heap.get(1));
            p.writeEnd().close();
            assertEquals(-1, p.readEnd().read(heap));
        }
    }

    @Test
    void readOfClosedFdThrowsEbadf() {
        Pipe p = Pipe.open();
        p.close();
        ErrnoException e = assertThrows(ErrnoException.class, () -> p.readEnd().read(new byte[1], 0, 1));
        assertEquals("EBADF", e.errnoName());
        assertEquals(Errno.EBADF, e.errno());
        assertThrows(ErrnoException.class, () -> p.readEnd().value());
        assertFalse(p.readEnd().isOpen());
        p.readEnd().close(); // idempotent
    }

    @Test
    void kernelReportsEbadfForAClosedDescriptorNumber() {
        Pipe p = Pipe.open();
        int raw = p.readEnd().value();
        p.close();
        Fd stale = Fd.adopt(raw);
        // the number may have been reused by another thread of this JVM: only check when it is free
        if (!Files.exists(Path.of("/proc/self/fd/" + raw))) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> stale.read(new byte[1], 0, 1));
            assertEquals("EBADF", e.errnoName());
            assertTrue(e.getMessage().contains("Bad file descriptor (EBADF)"), e.getMessage());
        }
    }

    @Test
    void openOfMissingFileThrowsEnoentNamingThePath() {
        ErrnoException e = assertThrows(ErrnoException.class,
                () -> Fd.open("/nonexistent/kava-test", OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0));
        assertEquals("ENOENT", e.errnoName());
        assertEquals("open(/nonexistent/kava-test): No such file or directory (ENOENT)", e.getMessage());
        assertEquals("open(/nonexistent/kava-test)", e.call());
    }

    @Test
    void openCreatesWritesAndReadsAFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("f");
        try (Fd fd = Fd.open(file.toString(), OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_EXCL
                | OpenFlags.O_CLOEXEC, 0640)) {
            byte[] b = "abc".getBytes(StandardCharsets.UTF_8);
            fd.writeFully(b, 0, b.length);
        }
        assertEquals("abc", Files.readString(file));
        ErrnoException e = assertThrows(ErrnoException.class, () -> Fd.open(file.toString(),
                OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_EXCL, 0640));
        assertEquals(Errno.EEXIST, e.errno());
    }

    @Test
    void nonBlockingReadOfEmptyPipeThrowsEagain() {
        try (Pipe p = Pipe.open()) {
            p.readEnd().setNonBlocking(true);
            assertTrue((p.readEnd().statusFlags() & OpenFlags.O_NONBLOCK) != 0);
            ErrnoException e = assertThrows(ErrnoException.class, () -> p.readEnd().read(new byte[4], 0, 4));
            assertEquals(Errno.EAGAIN, e.errno());
            p.readEnd().setNonBlocking(false);
            assertEquals(0, p.readEnd().statusFlags() & OpenFlags.O_NONBLOCK);
        }
    }

    @Test
    void dupGivesAnIndependentCloseOnExecDescriptor() {
        try (Pipe p = Pipe.open(); Fd copy = p.writeEnd().dup()) {
            assertTrue(copy.value() != p.writeEnd().value());
            assertTrue(copy.isCloexec());
            p.writeEnd().close();
            copy.writeFully(new byte[] {42}, 0, 1);
            byte[] b = new byte[1];
            assertEquals(1, p.readEnd().read(b, 0, 1));
            assertEquals(42, b[0]);
        }
    }

    @Test
    void writeToPipeWithoutReaderThrowsEpipe() {
        try (Pipe p = Pipe.open()) {
            p.readEnd().close();
            ErrnoException e = assertThrows(ErrnoException.class, () -> p.writeEnd().write(new byte[1], 0, 1));
            assertEquals(Errno.EPIPE, e.errno());
        }
    }

    @Test
    void streamsReadAndWriteWithoutClosingTheDescriptor() throws IOException {
        try (Pipe p = Pipe.open()) {
            try (OutputStream out = p.writeEnd().outputStream()) {
                out.write("line\n".getBytes(StandardCharsets.UTF_8));
                out.write('x');
            }
            assertTrue(p.writeEnd().isOpen());
            p.writeEnd().close();
            try (InputStream in = p.readEnd().inputStream()) {
                assertEquals("line\nx", new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
            assertTrue(p.readEnd().isOpen());
        }
    }

    @Test
    void streamErrorsAreIoExceptions() {
        Pipe p = Pipe.open();
        p.close();
        IOException e = assertThrows(IOException.class, () -> p.readEnd().inputStream().read());
        assertTrue(e.getCause() instanceof ErrnoException);
    }

    @Test
    void closeDuringABlockedReadDefersTheRealCloseUntilTheReadReturns() throws Exception {
        try (Pipe p = Pipe.open()) {
            Fd reader = p.readEnd();
            int raw = reader.value();
            CompletableFuture<Integer> read = new CompletableFuture<>();
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    read.complete(reader.read(new byte[8], 0, 8));
                } catch (Throwable e) {
                    read.completeExceptionally(e);
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (reader.callsInFlight() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(1, reader.callsInFlight());
            reader.close();
            assertFalse(reader.isOpen());
            // the number stays ours while the read is in flight, so it cannot be reused meanwhile
            assertTrue(Files.exists(Path.of("/proc/self/fd/" + raw)));
            p.writeEnd().writeFully(new byte[] {7}, 0, 1);
            assertEquals(1, read.get(5, TimeUnit.SECONDS));
            t.join();
            assertEquals(0, reader.callsInFlight());
            assertThrows(ErrnoException.class, () -> reader.read(new byte[1], 0, 1));
        }
    }

    @Test
    void adoptRejectsNegativeNumbers() {
        assertThrows(IllegalArgumentException.class, () -> Fd.adopt(-1));
    }
}
