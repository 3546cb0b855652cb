package dev.kava.vmm.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.virtio.memory.GuestMemory;
import java.util.List;
import org.junit.jupiter.api.Test;

class MemoryMapTest {
    @Test
    void ramSkipsTheMmioGap() {
        assertEquals(List.of(new GuestMemory.Range(0, 512L << 20)), MemoryMap.ramRanges(512L << 20));
        assertEquals(List.of(new GuestMemory.Range(0, 0xC000_0000L), new GuestMemory.Range(1L << 32, 1L << 30)),
                MemoryMap.ramRanges(4L << 30));
        assertThrows(IllegalArgumentException.class, () -> MemoryMap.ramRanges(8L << 20));
        assertThrows(IllegalArgumentException.class, () -> MemoryMap.ramRanges((64L << 20) + 4096));
    }

    @Test
    void devicesAndInterruptControllersSitInTheGap() {
        assertTrue(MemoryMap.inMmioGap(MemoryMap.virtioMmioAddress(0), MemoryMap.VIRTIO_MMIO_SIZE));
        assertTrue(MemoryMap.inMmioGap(MemoryMap.virtioMmioAddress(MemoryMap.MAX_VIRTIO_DEVICES - 1), MemoryMap.VIRTIO_MMIO_SIZE));
        assertTrue(MemoryMap.virtioMmioAddress(MemoryMap.MAX_VIRTIO_DEVICES - 1) + MemoryMap.VIRTIO_MMIO_SIZE < MemoryMap.IOAPIC_ADDRESS);
        assertTrue(MemoryMap.inMmioGap(MemoryMap.IOAPIC_ADDRESS, 4096));
        assertTrue(MemoryMap.inMmioGap(MemoryMap.LAPIC_ADDRESS, 4096));
        assertFalse(MemoryMap.inMmioGap(0xBFFF_F000L, 4096));
        assertThrows(IllegalArgumentException.class, () -> MemoryMap.virtioMmioAddress(MemoryMap.MAX_VIRTIO_DEVICES));
    }

    @Test
    void guestRamIsAMemfdThatCostsNothingUntilTouched() throws Exception {
        try (GuestMemory m = MemoryMap.allocate("test-ram", 4L << 30)) {
            assertTrue(m.file().isPresent(), "memfd-backed: shareable with a vhost-user back-end");
            assertEquals(4L << 30, m.size());
            assertEquals(2, m.regions().size());
            long rss = rssKiB();
            m.writeU64(0x1_0000_0000L + 4096, 42);
            assertEquals(42, m.readU64(0x1_0000_0000L + 4096));
            assertTrue(rssKiB() - rss < 64 * 1024, "4 GiB of guest RAM did not become resident");
        }
    }

    private static long rssKiB() throws Exception {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }
}
