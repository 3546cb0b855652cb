package dev.kava.vmm.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kava.vmm.kvm.MsrEntry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class BootCpuTest {
    @Test
    void bootMsrsAreWhatFirmwareLeaves() {
        Map<Integer, Long> m = BootCpu.msrs().stream().collect(Collectors.toMap(MsrEntry::index, MsrEntry::data));
        assertEquals(11, m.size());
        assertEquals(1L, m.get(0x1a0), "IA32_MISC_ENABLE: fast strings");
        assertEquals(0x806L, m.get(0x2ff), "MTRRdefType: enabled, write-back");
        assertEquals(0L, m.get(0xc0000082), "LSTAR");
        assertEquals(0L, m.get(0x10), "TSC");
    }

    @Test
    void localInterruptsAreExtIntAndNmi() {
        byte[] lapic = new byte[1024];
        ByteBuffer b = ByteBuffer.wrap(lapic).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x350, 0x0001_0000 | 0x200); // masked, some other mode
        b.putInt(0x360, 0x0001_0000);
        byte[] out = BootCpu.lapicWithLocalInterrupts(lapic);
        ByteBuffer o = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x0001_0700, o.getInt(0x350), "LVT0: ExtINT, other bits kept");
        assertEquals(0x0001_0400, o.getInt(0x360), "LVT1: NMI");
        assertEquals(0x200, b.getInt(0x350) & 0x700, "the input is not modified");
    }
}
