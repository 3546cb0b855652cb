package dev.kava.virtio.console;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.Pipe;
import dev.kava.virtio.device.DeviceHarness;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.driver.GuestDriver.Used;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VirtioConsoleTest {
    private static final Duration T = Duration.ofSeconds(5);
    private Pipe out;
    private Pipe in;

    @BeforeEach
    void pipes() {
        out = Pipe.open();
        in = Pipe.open();
    }

    @AfterEach
    void close() {
        out.readEnd().close();
        in.writeEnd().close();
    }

    private DeviceHarness harness() {
        return new DeviceHarness(new VirtioConsole(out.writeEnd(), in.readEnd()), 64);
    }

    private static byte[] drain(Fd fd) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[65536];
        fd.setNonBlocking(true);
        while (true) {
            try {
                int n = fd.read(buf, 0, buf.length);
                if (n < 0) {
                    break;
                }
                b.write(buf, 0, n);
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EAGAIN) {
                    break;
                }
                throw e;
            }
        }
        return b.toByteArray();
    }

    @Test
    void guestOutputReachesTheHostInOrder() {
        try (DeviceHarness h = harness()) {
            GuestDriver d = h.driver();
            DriverQueue tx = h.queue(VirtioConsole.TRANSMIT_QUEUE);
            tx.add(d.readable("hello ".getBytes(StandardCharsets.US_ASCII)), d.readable("console".getBytes(StandardCharsets.US_ASCII)));
            tx.addIndirect(d.readable("!\n".getBytes(StandardCharsets.US_ASCII)));
            h.notifyQueue(VirtioConsole.TRANSMIT_QUEUE);
            assertEquals(0, tx.takeUsed().length());
            assertEquals(0, tx.takeUsed().length());
            assertEquals("hello console!\n", new String(drain(out.readEnd()), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void hostInputReachesPostedReceiveBuffers() {
        try (DeviceHarness h = harness()) {
            GuestDriver d = h.driver();
            DriverQueue rx = h.queue(VirtioConsole.RECEIVE_QUEUE);
            Buffer b = d.writable(64);
            rx.add(b);
            h.notifyQueue(VirtioConsole.RECEIVE_QUEUE);
            byte[] typed = "ls -l\n".getBytes(StandardCharsets.US_ASCII);
            in.writeEnd().writeFully(typed, 0, typed.length);
            Used u = h.awaitUsed(VirtioConsole.RECEIVE_QUEUE, T);
            assertEquals(typed.length, u.length());
            assertArrayEquals(typed, d.read(b.address(), typed.length));
        }
    }

    @Test
    void inputWaitsForReceiveBuffersInsteadOfSpinning() {
        try (DeviceHarness h = harness()) {
            GuestDriver d = h.driver();
            byte[] typed = "early".getBytes(StandardCharsets.US_ASCII);
            in.writeEnd().writeFully(typed, 0, typed.length);
            h.pump(50); // input is ready but no buffer is posted: the device stops watching
            assertEquals(0, h.pump(50), "no handler runs again while the guest has no buffers");
            DriverQueue rx = h.queue(VirtioConsole.RECEIVE_QUEUE);
            Buffer b = d.writable(16);
            rx.add(b);
            h.notifyQueue(VirtioConsole.RECEIVE_QUEUE);
            Used u = h.awaitUsed(VirtioConsole.RECEIVE_QUEUE, T);
            assertArrayEquals(typed, d.read(b.address(), u.length()));
        }
    }

    @Test
    void aFullOutputHoldsTheGuestBackUntilItDrains() {
        try (DeviceHarness h = harness()) {
            GuestDriver d = h.driver();
            DriverQueue tx = h.queue(VirtioConsole.TRANSMIT_QUEUE);
            byte[] big = new byte[200_000];
            for (int i = 0; i < big.length; i++) {
                big[i] = (byte) (i % 251);
            }
            for (int i = 0; i < 4; i++) {
                tx.add(d.readable(Arrays.copyOfRange(big, i * 50_000, (i + 1) * 50_000)));
            }
            h.notifyQueue(VirtioConsole.TRANSMIT_QUEUE);
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            int completed = 0;
            long deadline = System.nanoTime() + T.toNanos();
            while (got.size() < big.length && System.nanoTime() < deadline) {
                got.writeBytes(drain(out.readEnd()));
                h.pump(10);
                while (tx.takeUsed() != null) {
                    completed++;
                }
            }
            assertArrayEquals(big, got.toByteArray(), "every byte, in order, after back-pressure");
            assertEquals(4, completed);
        }
    }

    @Test
    void outputToAFileNeedsNoWatching(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        Fd file = Fd.open(log.toString(), dev.kava.linux.OpenFlags.O_WRONLY | dev.kava.linux.OpenFlags.O_CREAT
                | dev.kava.linux.OpenFlags.O_CLOEXEC, 0600);
        try (DeviceHarness h = new DeviceHarness(new VirtioConsole(file, null), 16)) {
            DriverQueue tx = h.queue(VirtioConsole.TRANSMIT_QUEUE);
            tx.add(h.driver().readable("to a file\n".getBytes(StandardCharsets.US_ASCII)));
            h.notifyQueue(VirtioConsole.TRANSMIT_QUEUE);
            assertEquals(0, tx.takeUsed().length());
            assertEquals(0, h.loop().watched(), "a regular file is not watched (epoll refuses it)");
        }
        assertEquals("to a file\n", Files.readString(log));
    }

    @Test
    void writableBuffersOnTheTransmitQueueAreNotWritten() {
        try (DeviceHarness h = harness()) {
            GuestDriver d = h.driver();
            DriverQueue tx = h.queue(VirtioConsole.TRANSMIT_QUEUE);
            Buffer w = d.writable(8);
            tx.add(d.readable("x".getBytes(StandardCharsets.US_ASCII)), w);
            h.notifyQueue(VirtioConsole.TRANSMIT_QUEUE);
            assertEquals(0, tx.takeUsed().length());
            assertArrayEquals(new byte[8], d.read(w.address(), 8));
            assertNull(tx.takeUsed());
        }
    }

    @Test
    void anEmergencyWriteGoesOut() {
        try (VirtioConsole c = new VirtioConsole(out.writeEnd(), null)) {
            c.writeConfig(8, new byte[] {'E', 0, 0, 0});
            assertEquals("E", new String(drain(out.readEnd()), StandardCharsets.US_ASCII));
            byte[] cfg = new byte[VirtioConsole.CONFIG_SIZE];
            c.readConfig(0, cfg);
            assertEquals(1, cfg[4], "max_nr_ports");
        }
    }
}
