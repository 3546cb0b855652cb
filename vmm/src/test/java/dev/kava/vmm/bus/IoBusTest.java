package dev.kava.vmm.bus;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class IoBusTest {
    /** Records accesses; reads answer the offset's low byte. */
    static final class Recorder implements BusDevice {
        final List<String> log = new ArrayList<>();

        @Override
        public void read(long offset, byte[] data) {
            log.add("r" + offset + "/" + data.length);
            java.util.Arrays.fill(data, (byte) offset);
        }

        @Override
        public void write(long offset, byte[] data) {
            log.add("w" + offset + "/" + data.length);
        }
    }

    @Test
    void accessesReachTheDeviceWithTheOffsetIntoItsRange() {
        IoBus bus = new IoBus();
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        bus.add(0x3f8, 8, a);
        bus.add(0x60, 5, b);
        bus.seal();
        byte[] one = new byte[1];
        assertTrue(bus.read(0x3fd, one));
        assertEquals(5, one[0]);
        assertTrue(bus.write(0x64, new byte[] {(byte) 0xfe}));
        assertEquals(List.of("r5/1"), a.log);
        assertEquals(List.of("w4/1"), b.log);
    }

    @Test
    void nothingThereReadsZeroAndCrossingARangeEndReachesNoDevice() {
        IoBus bus = new IoBus();
        Recorder a = new Recorder();
        bus.add(0x1000, 0x100, a);
        bus.seal();
        byte[] four = {9, 9, 9, 9};
        assertFalse(bus.read(0x2000, four));
        assertArrayEquals(new byte[4], four);
        assertFalse(bus.read(0x10fe, new byte[4]), "a 4-byte read at the last 2 bytes crosses the end");
        assertFalse(bus.write(0xfff, new byte[2]), "starting before the range");
        assertTrue(bus.read(0x10fc, new byte[4]));
        assertEquals(List.of("r252/4"), a.log);
    }

    @Test
    void overlapsAndLateAdditionsAreRefused() {
        IoBus bus = new IoBus();
        bus.add(0x100, 0x10, new Recorder());
        assertThrows(IllegalArgumentException.class, () -> bus.add(0x108, 0x10, new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.add(0xf8, 0x10, new Recorder()));
        bus.add(0x110, 0x10, new Recorder());
        bus.seal();
        assertThrows(IllegalStateException.class, () -> bus.add(0x200, 1, new Recorder()));
    }
}
