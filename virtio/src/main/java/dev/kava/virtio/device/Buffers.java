package dev.kava.virtio.device;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Scatter-gather helpers over the segment lists of a descriptor chain: copies in and out at a
 * logical offset, and sub-ranges as views. All bounds are checked; nothing here trusts a length
 * the guest wrote (callers pass what the chain really has).
 */
public final class Buffers {
    private Buffers() {}

    /** The total bytes of {@code segments}. */
    public static long length(List<MemorySegment> segments) {
        long n = 0;
        for (MemorySegment s : segments) {
            n += s.byteSize();
        }
        return n;
    }

    /**
     * Views of {@code [offset, offset + length)} of the logical buffer {@code segments} form.
     * Throws {@link IndexOutOfBoundsException} when the range is not inside it.
     */
    public static List<MemorySegment> slice(List<MemorySegment> segments, long offset, long length) {
        if (offset < 0 || length < 0 || offset > length(segments) - length) {
            throw new IndexOutOfBoundsException("range " + offset + " + " + length + " of " + length(segments) + " bytes");
        }
        List<MemorySegment> out = new ArrayList<>();
        long skip = offset;
        long left = length;
        for (MemorySegment s : segments) {
            if (left == 0) {
                break;
            }
            long size = s.byteSize();
            if (skip >= size) {
                skip -= size;
                continue;
            }
            long take = Math.min(size - skip, left);
            out.add(s.asSlice(skip, take));
            left -= take;
            skip = 0;
        }
        return out;
    }

    /** Copies {@code dst.length} bytes from {@code offset} of {@code segments}; returns how many there were. */
    public static int read(List<MemorySegment> segments, long offset, byte[] dst) {
        return read(segments, offset, dst, 0, dst.length);
    }

    /**
     * Copies up to {@code len} bytes from {@code offset} of {@code segments} into
     * {@code dst[off..]}; returns how many were copied (fewer when the buffer ends first).
     */
    public static int read(List<MemorySegment> segments, long offset, byte[] dst, int off, int len) {
        long available = Math.max(0, length(segments) - Math.max(0, offset));
        int n = (int) Math.min(len, available);
        if (n <= 0 || offset < 0) {
            return 0;
        }
        int at = off;
        for (MemorySegment s : slice(segments, offset, n)) {
            int k = (int) s.byteSize();
            MemorySegment.copy(s, JAVA_BYTE, 0, dst, at, k);
            at += k;
        }
        return n;
    }

    /**
     * Copies up to {@code len} bytes of {@code src[off..]} to {@code offset} of {@code segments};
     * returns how many were copied (fewer when the buffer ends first).
     */
    public static int write(List<MemorySegment> segments, long offset, byte[] src, int off, int len) {
        long available = Math.max(0, length(segments) - Math.max(0, offset));
        int n = (int) Math.min(len, available);
        if (n <= 0 || offset < 0) {
            return 0;
        }
        int at = off;
        for (MemorySegment s : slice(segments, offset, n)) {
            int k = (int) s.byteSize();
            MemorySegment.copy(src, at, s, JAVA_BYTE, 0, k);
            at += k;
        }
        return n;
    }

    /** Copies up to {@code src.byteSize()} bytes of {@code src} to {@code offset} of {@code segments}; returns the count. */
    public static long write(List<MemorySegment> segments, long offset, MemorySegment src) {
        long available = Math.max(0, length(segments) - Math.max(0, offset));
        long n = Math.min(src.byteSize(), available);
        if (n <= 0 || offset < 0) {
            return 0;
        }
        long at = 0;
        for (MemorySegment s : slice(segments, offset, n)) {
            MemorySegment.copy(src, at, s, 0, s.byteSize());
            at += s.byteSize();
        }
        return n;
    }

    /** Copies up to {@code dst.byteSize()} bytes from {@code offset} of {@code segments} into {@code dst}; returns the count. */
    public static long read(List<MemorySegment> segments, long offset, MemorySegment dst) {
        long available = Math.max(0, length(segments) - Math.max(0, offset));
        long n = Math.min(dst.byteSize(), available);
        if (n <= 0 || offset < 0) {
            return 0;
        }
        long at = 0;
        for (MemorySegment s : slice(segments, offset, n)) {
            MemorySegment.copy(s, 0, dst, at, s.byteSize());
            at += s.byteSize();
        }
        return n;
    }
}
