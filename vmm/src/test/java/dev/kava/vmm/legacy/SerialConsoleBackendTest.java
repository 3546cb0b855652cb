package dev.kava.vmm.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.virtio.device.DeviceEventLoop;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The serial console's host side: a log file and a unix socket with output and input. */
class SerialConsoleBackendTest {
    @TempDir
    Path dir;

    @Test
    void outputGoesToTheLogAndTheClientAndClientInputReachesTheUart() throws Exception {
        Path log = dir.resolve("console.log");
        Path sock = dir.resolve("console.sock");
        AtomicInteger edges = new AtomicInteger();
        try (DeviceEventLoop loop = DeviceEventLoop.create(); SerialConsoleBackend backend = new SerialConsoleBackend(log, sock)) {
            Serial16550 uart = new Serial16550(backend, edges::incrementAndGet);
            backend.attach(uart, loop);
            uart.write(Serial16550.DATA, new byte[] {'a'}); // before anyone connects: only the log
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
                loop.runOnce(1000); // accept
                uart.write(Serial16550.DATA, new byte[] {'b'});
                ByteBuffer got = ByteBuffer.allocate(8);
                client.read(got);
                assertEquals("b", new String(got.array(), 0, got.position(), StandardCharsets.US_ASCII));
                client.write(ByteBuffer.wrap("ls\n".getBytes(StandardCharsets.US_ASCII)));
                loop.runOnce(1000);
                byte[] lsr = new byte[1];
                uart.read(Serial16550.LSR, lsr);
                assertEquals(Serial16550.LSR_DR, lsr[0] & Serial16550.LSR_DR);
                byte[] c = new byte[1];
                StringBuilder typed = new StringBuilder();
                for (int i = 0; i < 3; i++) {
                    uart.read(Serial16550.DATA, c);
                    typed.append((char) c[0]);
                }
                assertEquals("ls\n", typed.toString());
            }
            assertEquals("ab", Files.readString(log));
        }
        assertFalse(Files.exists(sock), "the socket is removed on close");
    }

    @Test
    void withoutSocketOnlyTheLog() throws Exception {
        Path log = dir.resolve("only.log");
        try (SerialConsoleBackend backend = new SerialConsoleBackend(log, null)) {
            backend.write("x".getBytes(StandardCharsets.US_ASCII));
            backend.flush();
            assertTrue(backend.listenerFd() == null);
        }
        assertEquals("x", Files.readString(log));
    }
}
