package dev.kava.virtio.rng;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.virtio.device.DeviceHarness;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class VirtioRngTest {
    private static final Duration T = Duration.ofSeconds(5);

    /** A predictable source: 1, 2, 3, ... so tests can see exactly what was written where. */
    private static VirtioRng counting() {
        int[] next = {1};
        return new VirtioRng(b -> {
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) next[0]++;
            }
        });
    }

    @Test
    void fillsAWritableBufferAndReportsItsLength() {
        try (DeviceHarness h = new DeviceHarness(new VirtioRng(), 16)) {
            assertEquals(DeviceType.ENTROPY.id(), 4);
            DriverQueue q = h.queue(0);
            Buffer b = h.driver().writable(64);
            q.add(b);
            h.notifyQueue(0);
            GuestDriver.Used u = q.takeUsed();
            assertEquals(64, u.length());
            byte[] got = h.driver().read(b.address(), 64);
            assertFalse(Arrays.equals(new byte[64], got), "64 zero bytes from a CSPRNG: not random");
            assertEquals(1, h.interrupt().used(0), "the driver asked for interrupts (no NO_INTERRUPT flag)");
        }
    }

    @Test
    void chainedAndIndirectBuffersAreFilledInOrder() {
        try (DeviceHarness h = new DeviceHarness(counting(), 16)) {
            DriverQueue q = h.queue(0);
            Buffer a = h.driver().writable(3);
            Buffer b = h.driver().writable(2);
            q.add(a, b);
            Buffer c = h.driver().writable(2);
            Buffer d = h.driver().writable(1);
            q.addIndirect(c, d);
            h.notifyQueue(0);
            assertEquals(5, q.takeUsed().length());
            assertEquals(3, q.takeUsed().length());
            assertArrayEquals(new byte[] {1, 2, 3}, h.driver().read(a.address(), 3));
            assertArrayEquals(new byte[] {4, 5}, h.driver().read(b.address(), 2));
            assertArrayEquals(new byte[] {6, 7}, h.driver().read(c.address(), 2));
            assertArrayEquals(new byte[] {8}, h.driver().read(d.address(), 1));
        }
    }

    @Test
    void aReadOnlyChainGetsNothing() {
        try (DeviceHarness h = new DeviceHarness(counting(), 16)) {
            DriverQueue q = h.queue(0);
            q.add(h.driver().readable(new byte[8]));
            h.notifyQueue(0);
            assertEquals(0, q.takeUsed().length());
        }
    }

    @Test
    void aHugeBufferGetsAtMostTheCap() {
        try (DeviceHarness h = new DeviceHarness(counting(), 16)) {
            DriverQueue q = h.queue(0);
            q.add(h.driver().writable(1 << 20));
            h.notifyQueue(0);
            assertEquals(VirtioRng.MAX_BYTES_PER_REQUEST, q.takeUsed().length());
        }
    }

    @Test
    void suppressedInterruptsAreNotSent() {
        try (DeviceHarness h = new DeviceHarness(counting(), -1L & ~(1L << 29), 16, new GuestDriver())) {
            DriverQueue q = h.queue(0);
            q.setNoInterrupt(true);
            q.add(h.driver().writable(4));
            h.notifyQueue(0);
            assertEquals(4, q.takeUsed().length());
            assertEquals(0, h.interrupt().used(0));
            assertNull(q.takeUsed());
            assertTrue(h.interrupt().resets().isEmpty());
        }
    }
}
