package dev.kava.virtio.fs;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * An ordered list of memory segments seen as one byte range {@code [0, size())}: the buffers of
 * one descriptor chain, split wherever the guest split them. Every access is bounds-checked
 * against the segments' own sizes, so no offset a guest writes can reach past its buffers; a
 * segment whose memory went away fails with the segment's exception (the server answers EIO).
 */
final class IoVector {
    static final IoVector EMPTY = new IoVector(new MemorySegment[0]);

    private final MemorySegment[] segments;
    /** {@code starts[i]}: offset of segment i; {@code starts[n]}: the total size. */
    private final long[] starts;

    private IoVector(MemorySegment[] segments) {
        this.segments = segments;
        this.starts = new long[segments.length + 1];
        for (int i = 0; i < segments.length; i++) {
            starts[i + 1] = starts[i] + segments[i].byteSize();
        }
    }

    /** A view of {@code list}; a null list counts as empty, a null element is refused. */
    static IoVector of(List<MemorySegment> list) {
        if (list == null || list.isEmpty()) {
            return EMPTY;
        }
        MemorySegment[] a = list.toArray(new MemorySegment[0]);
        for (MemorySegment s : a) {
            Objects.requireNonNull(s, "null segment");
        }
        return new IoVector(a);
    }

    long size() {
        return starts[segments.length];
    }

    /** Whether every segment is native (its address can go to a system call). */
    boolean isNative() {
        for (MemorySegment s : segments) {
            if (!s.isNative()) {
                return false;
            }
        }
        return true;
    }

    /** The segments, as slices of the originals. */
    List<MemorySegment> segments() {
        return List.of(segments);
    }

    /** The bytes {@code [offset, offset + length)} as a new vector (no copy). */
    IoVector slice(long offset, long length) {
        Objects.checkFromIndexSize(offset, length, size());
        if (length == 0) {
            return EMPTY;
        }
        int first = indexOf(offset);
        int last = indexOf(offset + length - 1);
        MemorySegment[] out = new MemorySegment[last - first + 1];
        for (int i = first; i <= last; i++) {
            long from = Math.max(offset, starts[i]) - starts[i];
            long to = Math.min(offset + length, starts[i + 1]) - starts[i];
            out[i - first] = segments[i].asSlice(from, to - from);
        }
        return new IoVector(out);
    }

    /** Copies {@code length} bytes at {@code offset} into {@code dst}. */
    void read(long offset, byte[] dst, int dstOffset, int length) {
        Objects.checkFromIndexSize(offset, length, size());
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        int i = length == 0 ? 0 : indexOf(offset);
        while (length > 0) {
            long at = offset - starts[i];
            int n = (int) Math.min(length, segments[i].byteSize() - at);
            MemorySegment.copy(segments[i], JAVA_BYTE, at, dst, dstOffset, n);
            offset += n;
            dstOffset += n;
            length -= n;
            i++;
        }
    }

    /** Copies {@code length} bytes of {@code src} to {@code offset}. */
    void write(long offset, byte[] src, int srcOffset, int length) {
        Objects.checkFromIndexSize(offset, length, size());
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        int i = length == 0 ? 0 : indexOf(offset);
        while (length > 0) {
            long at = offset - starts[i];
            int n = (int) Math.min(length, segments[i].byteSize() - at);
            MemorySegment.copy(src, srcOffset, segments[i], JAVA_BYTE, at, n);
            offset += n;
            srcOffset += n;
            length -= n;
            i++;
        }
    }

    /** Copies all of {@code src} to {@code offset}. */
    void write(long offset, MemorySegment src) {
        long length = src.byteSize();
        Objects.checkFromIndexSize(offset, length, size());
        long done = 0;
        int i = length == 0 ? 0 : indexOf(offset);
        while (done < length) {
            long at = offset + done - starts[i];
            long n = Math.min(length - done, segments[i].byteSize() - at);
            MemorySegment.copy(src, done, segments[i], at, n);
            done += n;
            i++;
        }
    }

    /** Copies {@code length} bytes at {@code offset} into {@code dst} at 0. */
    void read(long offset, MemorySegment dst, long length) {
        Objects.checkFromIndexSize(offset, length, size());
        long done = 0;
        int i = length == 0 ? 0 : indexOf(offset);
        while (done < length) {
            long at = offset + done - starts[i];
            long n = Math.min(length - done, segments[i].byteSize() - at);
            MemorySegment.copy(segments[i], at, dst, done, n);
            done += n;
            i++;
        }
    }

    /**
     * The offset of the first {@code value} byte in {@code [from, limit)}, or -1: how names are
     * found without trusting any length the guest gave for them.
     */
    long indexOf(byte value, long from, long limit) {
        limit = Math.min(limit, size());
        if (from >= limit) {
            return -1;
        }
        int i = indexOf(from);
        for (long off = from; off < limit; ) {
            long end = Math.min(limit, starts[i + 1]);
            MemorySegment s = segments[i];
            for (long at = off - starts[i]; off < end; off++, at++) {
                if (s.get(JAVA_BYTE, at) == value) {
                    return off;
                }
            }
            i++;
        }
        return -1;
    }

    /** The index of the segment holding byte {@code offset} (skipping empty segments). */
    private int indexOf(long offset) {
        int i = Arrays.binarySearch(starts, offset);
        if (i < 0) {
            i = -i - 2; // insertion point - 1: the segment whose start is below offset
        } else {
            while (i < segments.length - 1 && starts[i + 1] == offset) {
                i++; // empty segments share a start: take the last, the one that holds the byte
            }
        }
        return i;
    }
}
