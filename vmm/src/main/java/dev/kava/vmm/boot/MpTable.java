package dev.kava.vmm.boot;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.memory.GuestMemoryException;
import dev.kava.vmm.VmmException;
import dev.kava.vmm.memory.MemoryMap;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The Intel MultiProcessor Specification 1.4 tables, how a guest without ACPI finds its CPUs,
 * IOAPIC and interrupt routing: a floating pointer ({@code _MP_}) in the last KiB of base memory
 * and, right after it, the configuration table ({@code PCMP}) with one processor entry per vCPU
 * (APIC id = vCPU index, the first one the boot processor), one ISA bus, the IOAPIC, an I/O
 * interrupt entry per IOAPIC pin (ISA IRQ n → pin n, edge, active high, matching KVM's default
 * GSI routing), and the local interrupts (ExtINT on LINT0, NMI on LINT1).
 */
public final class MpTable {
    public static final int FLOATING_POINTER_BYTES = 16;
    public static final int HEADER_BYTES = 44;
    public static final int PROCESSOR_BYTES = 20;
    public static final int ENTRY_BYTES = 8;
    public static final int IOAPIC_PINS = 24;
    public static final int APIC_VERSION = 0x14;
    public static final int IOAPIC_VERSION = 0x11;
    /** Most vCPUs whose tables fit the 1 KiB before 640 KiB. */
    public static final int MAX_CPUS = 32;
    static final int ENTRY_PROCESSOR = 0;
    static final int ENTRY_BUS = 1;
    static final int ENTRY_IOAPIC = 2;
    static final int ENTRY_IO_INTERRUPT = 3;
    static final int ENTRY_LOCAL_INTERRUPT = 4;
    static final int INT_TYPE_INT = 0;
    static final int INT_TYPE_NMI = 1;
    static final int INT_TYPE_EXTINT = 3;

    private MpTable() {}

    /** Bytes the tables take for {@code cpus} processors. */
    public static int size(int cpus) {
        return FLOATING_POINTER_BYTES + HEADER_BYTES + PROCESSOR_BYTES * cpus + ENTRY_BYTES * (1 + 1 + IOAPIC_PINS + 2);
    }

    /** The IOAPIC's id: after the processors'. */
    public static int ioapicId(int cpus) {
        return cpus;
    }

    /** Writes the tables for {@code cpus} processors at {@link BootLayout#MPTABLE}. */
    public static void write(GuestMemory mem, int cpus) {
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw new VmmException("the MP table holds 1.." + MAX_CPUS + " processors, not " + cpus);
        }
        long at = BootLayout.MPTABLE;
        long table = at + FLOATING_POINTER_BYTES;
        ByteBuffer t = ByteBuffer.allocate(size(cpus) - FLOATING_POINTER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        t.put("PCMP".getBytes(StandardCharsets.US_ASCII));
        t.putShort((short) 0);                                 // base table length, below
        t.put((byte) 4);                                      // spec revision 1.4
        t.put((byte) 0);                                      // checksum, below
        t.put("KAVA    ".getBytes(StandardCharsets.US_ASCII));  // OEM id
        t.put("KAVA VMM    ".getBytes(StandardCharsets.US_ASCII)); // product id
        t.putInt(0).putShort((short) 0);                      // no OEM table
        t.putShort((short) 0);                                // entry count, below
        t.putInt((int) MemoryMap.LAPIC_ADDRESS);
        t.putShort((short) 0).put((byte) 0).put((byte) 0);    // no extended table
        int entries = 0;
        for (int cpu = 0; cpu < cpus; cpu++) {
            t.put((byte) ENTRY_PROCESSOR).put((byte) cpu).put((byte) APIC_VERSION)
                    .put((byte) (cpu == 0 ? 0x03 : 0x01))    // enabled; the first is the boot processor
                    .putInt(0x600)                            // CPU signature: family 6
                    .putInt(0x201)                            // features: FPU, APIC
                    .putLong(0);
            entries++;
        }
        t.put((byte) ENTRY_BUS).put((byte) 0).put("ISA   ".getBytes(StandardCharsets.US_ASCII));
        entries++;
        int ioapic = ioapicId(cpus);
        t.put((byte) ENTRY_IOAPIC).put((byte) ioapic).put((byte) IOAPIC_VERSION).put((byte) 1)
                .putInt((int) MemoryMap.IOAPIC_ADDRESS);
        entries++;
        for (int pin = 0; pin < IOAPIC_PINS; pin++) {
            t.put((byte) ENTRY_IO_INTERRUPT).put((byte) INT_TYPE_INT).putShort((short) 0) // conforming: edge, high
                    .put((byte) 0).put((byte) pin).put((byte) ioapic).put((byte) pin);
            entries++;
        }
        t.put((byte) ENTRY_LOCAL_INTERRUPT).put((byte) INT_TYPE_EXTINT).putShort((short) 0)
                .put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0);       // ExtINT → BSP LINT0
        t.put((byte) ENTRY_LOCAL_INTERRUPT).put((byte) INT_TYPE_NMI).putShort((short) 0)
                .put((byte) 0).put((byte) 0).put((byte) 0xff).put((byte) 1);    // NMI → every LINT1
        entries += 2;
        byte[] config = t.array();
        ByteBuffer c = ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN);
        c.putShort(4, (short) config.length);
        c.putShort(34, (short) entries);
        config[7] = checksum(config);

        byte[] fp = ByteBuffer.allocate(FLOATING_POINTER_BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .put("_MP_".getBytes(StandardCharsets.US_ASCII)).putInt((int) table).put((byte) 1).put((byte) 4)
                .put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0).array();
        fp[10] = checksum(fp);
        try {
            mem.write(at, fp, 0, fp.length);
            mem.write(table, config, 0, config.length);
        } catch (GuestMemoryException e) {
            throw new VmmException("cannot write the MP table: " + e.getMessage(), e);
        }
    }

    /** The byte that makes {@code bytes} sum to 0 modulo 256 (its current value counted as 0). */
    static byte checksum(byte[] bytes) {
        int sum = 0;
        for (byte b : bytes) {
            sum += b & 0xff;
        }
        return (byte) -sum;
    }
}
