package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Data of open files: positioned scatter/gather I/O straight into or out of native memory
 * ({@code preadv(2)}, {@code pwritev(2)}), {@code fsync(2)}, {@code ftruncate(2)},
 * {@code fallocate(2)}, {@code lseek(2)} (with SEEK_DATA / SEEK_HOLE) and
 * {@code copy_file_range(2)}. The descriptors must be real open files, not {@code O_PATH}
 * (see {@link FileSystem#reopen}).
 *
 * <p>The segments given to {@link #preadv} and {@link #pwritev} must be native (their addresses
 * go to the kernel in an iovec array); a heap segment is refused with IllegalArgumentException.
 */
public final class FileIo {
    /** {@code lseek(2)} whence values. */
    public static final int SEEK_SET = 0;
    public static final int SEEK_CUR = 1;
    public static final int SEEK_END = 2;
    public static final int SEEK_DATA = 3;
    public static final int SEEK_HOLE = 4;

    /** {@code fallocate(2)} modes ({@code <linux/falloc.h>}). */
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_COLLAPSE_RANGE = 0x08;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    public static final int FALLOC_FL_INSERT_RANGE = 0x20;
    public static final int FALLOC_FL_UNSHARE_RANGE = 0x40;

    /** Most iovecs one call takes ({@code IOV_MAX}); longer lists are done in several calls. */
    public static final int IOV_MAX = 1024;

    /** {@code ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t offset)} */
    private static final Native.Lazy PREADV = Native.lazyErrnoCall("preadv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    /** {@code ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)} */
    private static final Native.Lazy PWRITEV = Native.lazyErrnoCall("pwritev",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    /** {@code int fsync(int fd)} */
    private static final Native.Lazy FSYNC = Native.lazyErrnoCall("fsync", Native.INT_OF_INT);
    /** {@code int fdatasync(int fd)} */
    private static final Native.Lazy FDATASYNC = Native.lazyErrnoCall("fdatasync", Native.INT_OF_INT);
    /** {@code int ftruncate(int fd, off_t length)} */
    private static final Native.Lazy FTRUNCATE = Native.lazyErrnoCall("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    /** {@code int fallocate(int fd, int mode, off_t offset, off_t len)} */
    private static final Native.Lazy FALLOCATE = Native.lazyErrnoCall("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    /** {@code off_t lseek(int fd, off_t offset, int whence)} */
    private static final Native.Lazy LSEEK = Native.lazyErrnoCall("lseek",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    /** {@code ssize_t copy_file_range(int fd_in, off_t *off_in, int fd_out, off_t *off_out, size_t len, unsigned flags)} */
    private static final Native.Lazy COPY_FILE_RANGE = Native.lazyErrnoCall("copy_file_range",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    private FileIo() {}

    /**
     * Reads at {@code offset} into the segments in order, {@code preadv(2)}, until they are full or
     * the file ends; returns the bytes read (less than their total size only at end of file).
     */
    public static long preadv(Fd fd, List<MemorySegment> dst, long offset) {
        return transfer(fd, dst, offset, false);
    }

    /**
     * Writes the segments in order at {@code offset}, {@code pwritev(2)}, until all is written;
     * returns the bytes written. (On an {@code O_APPEND} descriptor Linux appends instead.)
     */
    public static long pwritev(Fd fd, List<MemorySegment> src, long offset) {
        return transfer(fd, src, offset, true);
    }

    private static long transfer(Fd fd, List<MemorySegment> segments, long offset, boolean write) {
        long total = 0;
        for (MemorySegment s : segments) {
            if (!s.isNative()) {
                throw new IllegalArgumentException("preadv/pwritev need native segments");
            }
            total += s.byteSize();
        }
        if (total == 0) {
            return 0;
        }
        int n = fd.acquire(write ? "pwritev" : "preadv");
        try (Arena arena = Arena.ofConfined()) {
            int count = Math.min(segments.size(), IOV_MAX);
            MemorySegment iov = arena.allocate(Structs.IOVEC, count);
            long iovSize = Structs.IOVEC.byteSize();
            long base = Structs.offset(Structs.IOVEC, "iov_base");
            long len = Structs.offset(Structs.IOVEC, "iov_len");
            long done = 0;
            int first = 0;
            long skip = 0; // bytes of segments[first] already done
            while (first < segments.size()) {
                int used = 0;
                for (int i = first; i < segments.size() && used < count; i++) {
                    MemorySegment s = i == first ? segments.get(i).asSlice(skip) : segments.get(i);
                    if (s.byteSize() == 0) {
                        continue;
                    }
                    iov.set(ADDRESS, used * iovSize + base, s);
                    iov.set(JAVA_LONG, used * iovSize + len, s.byteSize());
                    used++;
                }
                if (used == 0) {
                    break;
                }
                int iovcnt = used;
                long pos = offset + done;
                long r = FsCalls.run(write ? "pwritev" : "preadv", (st, a) -> write
                        ? (long) PWRITEV.handle().invokeExact(st, n, iov, iovcnt, pos)
                        : (long) PREADV.handle().invokeExact(st, n, iov, iovcnt, pos));
                if (r == 0) {
                    break; // end of file (read), or a write that made no progress
                }
                done += r;
                // advance (first, skip) by r bytes
                long left = r;
                while (left > 0 && first < segments.size()) {
                    long rest = segments.get(first).byteSize() - skip;
                    if (left >= rest) {
                        left -= rest;
                        first++;
                        skip = 0;
                    } else {
                        skip += left;
                        left = 0;
                    }
                }
                while (first < segments.size() && segments.get(first).byteSize() == skip) {
                    first++;
                    skip = 0;
                }
            }
            return done;
        } finally {
            fd.release();
        }
    }

    /** Flushes data and metadata to storage, {@code fsync(2)}; with {@code dataOnly}, {@code fdatasync(2)}. */
    public static void fsync(Fd fd, boolean dataOnly) {
        int n = fd.acquire("fsync");
        try {
            FsCalls.run(dataOnly ? "fdatasync" : "fsync", (st, a) -> dataOnly
                    ? (int) FDATASYNC.handle().invokeExact(st, n)
                    : (int) FSYNC.handle().invokeExact(st, n));
        } finally {
            fd.release();
        }
    }

    /** Sets the file's length, {@code ftruncate(2)} (the descriptor must be open for writing). */
    public static void ftruncate(Fd fd, long length) {
        int n = fd.acquire("ftruncate");
        try {
            FsCalls.run("ftruncate", (st, a) -> (int) FTRUNCATE.handle().invokeExact(st, n, length));
        } finally {
            fd.release();
        }
    }

    /** Allocates, punches or zeroes a range, {@code fallocate(2)}, with {@code FALLOC_FL_*} {@code mode}. */
    public static void fallocate(Fd fd, int mode, long offset, long length) {
        int n = fd.acquire("fallocate");
        try {
            FsCalls.run("fallocate", (st, a) -> (int) FALLOCATE.handle().invokeExact(st, n, mode, offset, length));
        } finally {
            fd.release();
        }
    }

    /**
     * Moves the file offset, {@code lseek(2)}, and returns the new one. With {@link #SEEK_DATA} /
     * {@link #SEEK_HOLE}: the next data / hole at or after {@code offset}; ENXIO past the end.
     */
    public static long lseek(Fd fd, long offset, int whence) {
        int n = fd.acquire("lseek");
        try {
            return FsCalls.run("lseek", (st, a) -> (long) LSEEK.handle().invokeExact(st, n, offset, whence));
        } finally {
            fd.release();
        }
    }

    /**
     * Copies up to {@code length} bytes from {@code in} at {@code inOffset} to {@code out} at
     * {@code outOffset} inside the kernel, {@code copy_file_range(2)}; returns the bytes copied
     * (0 at the end of {@code in}). The descriptors' own offsets do not move.
     */
    public static long copyFileRange(Fd in, long inOffset, Fd out, long outOffset, long length, int flags) {
        int i = in.acquire("copy_file_range");
        try {
            int o = out.acquire("copy_file_range");
            try {
                return FsCalls.run("copy_file_range", (st, a) -> {
                    MemorySegment offIn = a.allocateFrom(JAVA_LONG, inOffset);
                    MemorySegment offOut = a.allocateFrom(JAVA_LONG, outOffset);
                    return (long) COPY_FILE_RANGE.handle().invokeExact(st, i, offIn, o, offOut, length, flags);
                });
            } finally {
                out.release();
            }
        } finally {
            in.release();
        }
    }
}
