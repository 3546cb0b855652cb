package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnixSocketTest {
    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Runs {@code call} on a platform thread (it blocks in the kernel). */
    private static <T> CompletableFuture<T> onPlatformThread(Supplier<T> call) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                f.complete(call.get());
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f;
    }

    private static void awaitCallInFlight(Fd fd) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (fd.callsInFlight() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        Thread.sleep(50); // let the caller reach the kernel
    }

    @Test
    void listenConnectAcceptCarryBytesAndEof(@TempDir Path dir) {
        Path path = dir.resolve("s.sock");
        try (UnixSocket server = UnixSocket.listen(path, 4)) {
            UnixSocket client = UnixSocket.connect(path);
            try (UnixSocket accepted = server.accept()) {
                assertEquals(4, client.send(bytes("ping"), 0, 4));
                byte[] buf = new byte[16];
                UnixSocket.Received r = accepted.receive(buf, 0, buf.length, 4);
                assertEquals(4, r.bytes());
                assertTrue(r.fds().isEmpty());
                assertEquals("ping", new String(buf, 0, 4, StandardCharsets.UTF_8));
                client.close();
                assertEquals(-1, accepted.receive(buf, 0, buf.length, 4).bytes());
            } finally {
                client.close();
            }
        }
    }

    @Test
    void passedPipeWriteEndWritesIntoTheSendersPipe() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Pipe pipe = Pipe.open()) {
            assertEquals(1, a.send(bytes("x"), 0, 1, pipe.writeEnd()));
            pipe.writeEnd().close(); // the receiver's copy is now the only write end
            byte[] buf = new byte[8];
            UnixSocket.Received r = b.receive(buf, 0, buf.length, 4);
            assertEquals(1, r.bytes());
            assertEquals(1, r.fds().size());
            try (Fd received = r.fds().getFirst()) {
                assertTrue(received.isCloexec(), "MSG_CMSG_CLOEXEC");
                received.writeFully(bytes("through"), 0, 7);
            }
            byte[] out = new byte[16];
            int n = pipe.readEnd().read(out, 0, out.length);
            assertEquals("through", new String(out, 0, n, StandardCharsets.UTF_8));
            assertEquals(-1, pipe.readEnd().read(out, 0, out.length), "no write end left open");
        }
    }

    @Test
    void severalDescriptorsTravelInOneMessage() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Pipe p1 = Pipe.open(); Pipe p2 = Pipe.open()) {
            a.send(bytes("fds"), 0, 3, p1.readEnd(), p1.writeEnd(), p2.writeEnd());
            UnixSocket.Received r = b.receive(new byte[8], 0, 8, 3);
            assertEquals(3, r.bytes());
            assertEquals(3, r.fds().size());
            try (Fd w = r.fds().get(2)) {
                w.writeFully(bytes("2"), 0, 1);
            }
            byte[] one = new byte[1];
            assertEquals(1, p2.readEnd().read(one, 0, 1));
            r.fds().forEach(Fd::close);
        }
    }

    @Test
    void descriptorsBeyondMaxFdsAreDroppedButBytesArrive() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Pipe p = Pipe.open()) {
            a.send(bytes("y"), 0, 1, p.writeEnd());
            UnixSocket.Received r = b.receive(new byte[4], 0, 4, 0);
            assertEquals(1, r.bytes());
            assertTrue(r.fds().isEmpty());
        }
    }

    @Test
    void sendingDescriptorsWithoutDataIsRejected() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Pipe p = Pipe.open()) {
            assertThrows(IllegalArgumentException.class, () -> a.send(new byte[0], 0, 0, p.writeEnd()));
            assertTrue(b.fd().isOpen());
        }
    }

    @Test
    void closeWakesAThreadBlockedInAccept(@TempDir Path dir) throws Exception {
        UnixSocket server = UnixSocket.listen(dir.resolve("a.sock"), 1);
        CompletableFuture<UnixSocket> accept = onPlatformThread(server::accept);
        awaitCallInFlight(server.fd());
        server.close();
        ExecutionException e = assertThrows(ExecutionException.class, () -> accept.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof ErrnoException, String.valueOf(e.getCause()));
        assertEquals(0, server.fd().callsInFlight());
    }

    @Test
    void closeWakesAThreadBlockedInReceive() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket b = pair[1]) {
            UnixSocket a = pair[0];
            CompletableFuture<UnixSocket.Received> receive = onPlatformThread(() -> a.receive(new byte[4], 0, 4, 1));
            awaitCallInFlight(a.fd());
            a.close();
            assertEquals(-1, receive.get(5, TimeUnit.SECONDS).bytes());
            assertTrue(b.fd().isOpen());
        }
    }

    @Test
    void connectErrorsNameThePath(@TempDir Path dir) {
        Path missing = dir.resolve("missing.sock");
        ErrnoException e = assertThrows(ErrnoException.class, () -> UnixSocket.connect(missing));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());

        Path stale = dir.resolve("stale.sock");
        UnixSocket.listen(stale, 1).close(); // the socket file stays, with no listener
        assertEquals(Errno.ECONNREFUSED, assertThrows(ErrnoException.class, () -> UnixSocket.connect(stale)).errno());
        assertEquals(Errno.EADDRINUSE, assertThrows(ErrnoException.class, () -> UnixSocket.listen(stale, 1)).errno());
    }

    @Test
    void tooLongPathIsRejected(@TempDir Path dir) {
        Path longPath = dir.resolve("x".repeat(120));
        assertThrows(LinuxException.class, () -> UnixSocket.connect(longPath));
    }
}
