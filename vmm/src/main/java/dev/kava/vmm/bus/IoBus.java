package dev.kava.vmm.bus;

import java.util.Map;
import java.util.TreeMap;

/**
 * An address space (the I/O ports, or guest physical MMIO) divided into device ranges: a vCPU
 * exit's address is looked up here and the access handed to the device with the offset into its
 * range. Accesses to no device, or crossing the end of a device's range, read as zeros and are
 * dropped as writes (as on a bus with nothing there). Built before the vCPUs run, then read-only:
 * lookups are lock-free.
 */
public final class IoBus {
    private record Range(long base, long size, BusDevice device) {}

    private final TreeMap<Long, Range> ranges = new TreeMap<>();
    private volatile boolean sealed;

    /** Puts {@code device} at {@code [base, base + size)}; ranges may not overlap. */
    public synchronized void add(long base, long size, BusDevice device) {
        if (sealed) {
            throw new IllegalStateException("the bus is sealed: devices are added before the vCPUs start");
        }
        if (size <= 0 || base < 0 || base > Long.MAX_VALUE - size) {
            throw new IllegalArgumentException("bad range 0x" + Long.toHexString(base) + " + " + size);
        }
        Map.Entry<Long, Range> below = ranges.floorEntry(base + size - 1);
        if (below != null && below.getValue().base() + below.getValue().size() > base) {
            throw new IllegalArgumentException("range 0x" + Long.toHexString(base) + " + " + size + " overlaps 0x"
                    + Long.toHexString(below.getKey()));
        }
        ranges.put(base, new Range(base, size, device));
    }

    /** No more devices: lookups need no lock from now on. */
    public synchronized void seal() {
        sealed = true;
    }

    /** Handles a read of {@code data.length} bytes at {@code address}; returns whether a device took it. */
    public boolean read(long address, byte[] data) {
        Range r = find(address, data.length);
        if (r == null) {
            java.util.Arrays.fill(data, (byte) 0);
            return false;
        }
        r.device().read(address - r.base(), data);
        return true;
    }

    /** Handles a write at {@code address}; returns whether a device took it. */
    public boolean write(long address, byte[] data) {
        Range r = find(address, data.length);
        if (r == null) {
            return false;
        }
        r.device().write(address - r.base(), data);
        return true;
    }

    private Range find(long address, int length) {
        Map.Entry<Long, Range> e = sealed ? ranges.floorEntry(address) : floorLocked(address);
        if (e == null) {
            return null;
        }
        Range r = e.getValue();
        long offset = address - r.base();
        return offset >= 0 && length >= 0 && offset <= r.size() - length ? r : null;
    }

    private synchronized Map.Entry<Long, Range> floorLocked(long address) {
        return ranges.floorEntry(address);
    }
}
