package dev.kava.vmm.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The records ⇄ C structs conversions and the kvm_run decoding, without KVM. */
class KvmStructsTest {
    @Test
    void registersRoundTripThroughKvmRegs() {
        Registers r = new Registers(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xffff_ffff_8100_0000L, 0x202);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = KvmStructs.registers(a, r);
            assertEquals(144, s.byteSize());
            assertEquals(0xffff_ffff_8100_0000L, s.get(JAVA_LONG, 128), "rip at offset 128");
            assertEquals(r, KvmStructs.registers(s));
        }
    }

    @Test
    void specialRegistersRoundTripAndLeaveNoPendingInterrupt() {
        Segment cs = new Segment(0, 0xffff_ffff, 0x10, 0xb, true, 0, false, true, true, true, false, false);
        Segment ds = new Segment(0x1000, 0xfffff, 0x18, 0x3, true, 3, true, true, false, false, true, false);
        SpecialRegisters r = new SpecialRegisters(cs, ds, ds, ds, ds, ds, cs, Segment.unusableSegment(),
                new DescriptorTable(0x500, 39), new DescriptorTable(0x520, 7), 0x8000_0011L, 5, 0x9000, 0x20, 0, 0x500, 0xfee0_0900L);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = KvmStructs.specialRegisters(a, r);
            assertEquals(r, KvmStructs.specialRegisters(s));
            assertEquals(0x10, s.get(JAVA_SHORT, 12), "cs.selector");
            assertEquals(1, s.get(JAVA_BYTE, 24 * 0 + 19), "cs.l");
            for (int i = 0; i < 4; i++) {
                assertEquals(0, s.get(JAVA_LONG, 280 + 8 * i), "interrupt_bitmap is zero");
            }
        }
    }

    @Test
    void cpuidAndMsrsCarryTheirEntries() {
        List<CpuidEntry> entries = List.of(new CpuidEntry(0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69),
                new CpuidEntry(0xb, 1, CpuidEntry.FLAG_SIGNIFICANT_INDEX, 1, 2, 0x201, 3));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = KvmStructs.cpuid(a, entries, 4);
            assertEquals(2, s.get(JAVA_INT, 0), "nent");
            assertEquals(entries, KvmStructs.cpuid(s).subList(0, 2));
            MemorySegment empty = KvmStructs.cpuid(a, List.of(), 100);
            assertEquals(100, empty.get(JAVA_INT, 0), "GET_SUPPORTED_CPUID reads nent as the room it may fill");
            List<MsrEntry> msrs = List.of(new MsrEntry(0x10, 42), new MsrEntry(0xc000_0080, -1));
            MemorySegment m = KvmStructs.msrs(a, msrs);
            assertEquals(2, m.get(JAVA_INT, 0));
            assertEquals(msrs, KvmStructs.msrs(m, 2));
        }
        assertThrows(IllegalArgumentException.class, () -> {
            try (Arena a = Arena.ofConfined()) {
                KvmStructs.cpuid(a, entries, 1);
            }
        });
    }

    @Test
    void aCpuidAnswerClaimingMoreEntriesThanTheBufferIsCut() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = KvmStructs.cpuid(a, List.of(), 3);
            s.set(JAVA_INT, 0, 1000);
            assertEquals(3, KvmStructs.cpuid(s).size());
        }
    }

    @Test
    void theSignalMaskHasTheKernelSigsetSize() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = KvmStructs.signalMask(a, 0x8000_0000_0000_0001L);
            assertEquals(8, s.get(JAVA_INT, 0), "len: the kernel's sigset is 8 bytes");
            assertEquals(0x8000_0000_0000_0001L, s.get(JAVA_LONG.withByteAlignment(4), 4));
        }
    }

    // ------------------------------------------------------------------ kvm_run

    private static MemorySegment run(Arena a) {
        return a.allocate(4096, 8);
    }

    @Test
    void portExitsAreDecodedWithTheirData() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = run(a);
            KvmRun r = new KvmRun(m);
            m.set(JAVA_INT, KvmLayouts.RUN_EXIT_REASON, KvmConstants.KVM_EXIT_IO);
            m.set(JAVA_BYTE, KvmLayouts.RUN_IO_DIRECTION, (byte) KvmConstants.KVM_EXIT_IO_OUT);
            m.set(JAVA_BYTE, KvmLayouts.RUN_IO_SIZE, (byte) 1);
            m.set(JAVA_SHORT, KvmLayouts.RUN_IO_PORT, (short) 0x3f8);
            m.set(JAVA_INT, KvmLayouts.RUN_IO_COUNT, 3);
            m.set(JAVA_LONG, KvmLayouts.RUN_IO_DATA_OFFSET, 1024);
            MemorySegment.copy(new byte[] {'a', 'b', 'c'}, 0, m, JAVA_BYTE, 1024, 3);
            VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, r.exit());
            assertEquals(0x3f8, out.port());
            assertEquals(3, out.count());
            assertArrayEquals(new byte[] {'a', 'b', 'c'}, out.data());

            m.set(JAVA_BYTE, KvmLayouts.RUN_IO_DIRECTION, (byte) KvmConstants.KVM_EXIT_IO_IN);
            m.set(JAVA_BYTE, KvmLayouts.RUN_IO_SIZE, (byte) 2);
            m.set(JAVA_INT, KvmLayouts.RUN_IO_COUNT, 1);
            VcpuExit.IoIn in = assertInstanceOf(VcpuExit.IoIn.class, r.exit());
            assertEquals(2, in.size());
            r.completeRead(new byte[] {0x34, 0x12, 0x77});
            assertEquals(0x1234, m.get(JAVA_SHORT, 1024), "only size * count bytes are written");
            assertEquals('c', m.get(JAVA_BYTE, 1026));
        }
    }

    @Test
    void mmioExitsAreDecodedAndReadsCompleted() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = run(a);
            KvmRun r = new KvmRun(m);
            m.set(JAVA_INT, KvmLayouts.RUN_EXIT_REASON, KvmConstants.KVM_EXIT_MMIO);
            m.set(JAVA_LONG, KvmLayouts.RUN_MMIO_PHYS_ADDR, 0xd000_0050L);
            m.set(JAVA_INT, KvmLayouts.RUN_MMIO_LEN, 4);
            m.set(JAVA_BYTE, KvmLayouts.RUN_MMIO_IS_WRITE, (byte) 1);
            m.set(JAVA_INT, KvmLayouts.RUN_MMIO_DATA, 7);
            VcpuExit.MmioWrite w = assertInstanceOf(VcpuExit.MmioWrite.class, r.exit());
            assertEquals(0xd000_0050L, w.address());
            assertArrayEquals(new byte[] {7, 0, 0, 0}, w.data());
            m.set(JAVA_BYTE, KvmLayouts.RUN_MMIO_IS_WRITE, (byte) 0);
            VcpuExit.MmioRead rd = assertInstanceOf(VcpuExit.MmioRead.class, r.exit());
            assertEquals(4, rd.length());
            r.completeRead(new byte[] {0x76, 0x69, 0x72, 0x74});
            assertEquals(0x74726976, m.get(JAVA_INT, KvmLayouts.RUN_MMIO_DATA));
        }
    }

    @Test
    void impossibleValuesBecomeOtherExitsNotExceptions() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = run(a);
            KvmRun r = new KvmRun(m);
            m.set(JAVA_INT, KvmLayouts.RUN_EXIT_REASON, KvmConstants.KVM_EXIT_IO);
            m.set(JAVA_BYTE, KvmLayouts.RUN_IO_SIZE, (byte) 4);
            m.set(JAVA_INT, KvmLayouts.RUN_IO_COUNT, 1);
            m.set(JAVA_LONG, KvmLayouts.RUN_IO_DATA_OFFSET, 4094);
            assertInstanceOf(VcpuExit.Other.class, r.exit(), "data past the mapping");
            m.set(JAVA_BYTE, KvmLayouts.RUN_IO_SIZE, (byte) 3);
            m.set(JAVA_LONG, KvmLayouts.RUN_IO_DATA_OFFSET, 1024);
            assertInstanceOf(VcpuExit.Other.class, r.exit(), "a 3-byte port access");
            m.set(JAVA_INT, KvmLayouts.RUN_EXIT_REASON, KvmConstants.KVM_EXIT_MMIO);
            m.set(JAVA_INT, KvmLayouts.RUN_MMIO_LEN, 9);
            assertInstanceOf(VcpuExit.Other.class, r.exit());
            m.set(JAVA_INT, KvmLayouts.RUN_EXIT_REASON, 9999);
            assertEquals(new VcpuExit.Other(9999), r.exit());
        }
    }

    @Test
    void otherExitReasonsMapToTheirRecords() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = run(a);
            KvmRun r = new KvmRun(m);
            m.set(JAVA_INT, KvmLayouts.RUN_EXIT_REASON, KvmConstants.KVM_EXIT_SHUTDOWN);
            assertEquals(new VcpuExit.Shutdown(), r.exit());
            m.set(JAVA_INT, KvmLayouts.RUN_EXIT_REASON, KvmConstants.KVM_EXIT_SYSTEM_EVENT);
            m.set(JAVA_INT, KvmLayouts.RUN_SYSTEM_EVENT_TYPE, KvmConstants.KVM_SYSTEM_EVENT_RESET);
            assertEquals(new VcpuExit.SystemEvent(VcpuExit.SystemEvent.RESET), r.exit());
            m.set(JAVA_INT, KvmLayouts.RUN_EXIT_REASON, KvmConstants.KVM_EXIT_FAIL_ENTRY);
            m.set(JAVA_LONG, KvmLayouts.RUN_FAIL_ENTRY_REASON, 0x80000021L);
            assertEquals(new VcpuExit.FailEntry(0x80000021L, 0), r.exit());
            m.set(JAVA_INT, KvmLayouts.RUN_EXIT_REASON, KvmConstants.KVM_EXIT_INTR);
            assertEquals(new VcpuExit.Interrupted(), r.exit());
            r.requestImmediateExit(true);
            assertEquals(1, m.get(JAVA_BYTE, 1));
        }
        assertThrows(IllegalArgumentException.class, () -> {
            try (Arena a = Arena.ofConfined()) {
                new KvmRun(a.allocate(100));
            }
        });
    }
}
