package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One memory mapping, {@code mmap(2)}, owned until {@link #close()} unmaps it ({@code munmap(2)}).
 *
 * <h2>Safety</h2>
 * {@link #segment()} is a segment of exactly the mapped size, tied to a shared arena that this
 * object owns. {@link #close()} closes that arena first, so every segment derived from the
 * mapping (slices included) becomes inaccessible, on every thread, before the pages are
 * unmapped: a stale segment throws {@link IllegalStateException} instead of touching whatever
 * the kernel puts at that address next. Closing while a native call is using the segment fails
 * with {@link IllegalStateException} (the JDK refuses to close an arena a downcall holds); the
 * owner stops its users first.
 *
 * <p>A shared file mapping can still fault ({@code SIGBUS}) if the file shrinks below the mapping
 * after it was made (another process holding the file can truncate it): the JVM turns such a
 * fault in a segment access into {@link InternalError} ("a fault occurred in an unsafe memory
 * access operation"), possibly reported a little after the faulting access; it does not crash
 * the process. {@link #shared} refuses to map past the end of a regular file, and files that
 * other processes can resize should be sealed against shrinking ({@code F_SEAL_SHRINK}). Size a
 * file to map with {@link FileIo#ftruncate}.
 *
 * <p>Guest RAM is mapped with {@link #MAP_NORESERVE} and touched lazily: unlike
 * {@code Arena.allocate}, a mapping costs no memory until a page is written.
 */
public final class Memory implements AutoCloseable {
    /** {@code mmap(2)} protections. */
    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    /** {@code mmap(2)} flags. */
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_POPULATE = 0x8000;
    /** Refused by {@link #map}: placing mappings at fixed addresses can silently replace others. */
    public static final int MAP_FIXED = 0x10;
    /** {@code madvise(2)} advice. */
    public static final int MADV_NORMAL = 0;
    public static final int MADV_RANDOM = 1;
    public static final int MADV_SEQUENTIAL = 2;
    public static final int MADV_WILLNEED = 3;
    public static final int MADV_DONTNEED = 4;
    public static final int MADV_REMOVE = 9;
    public static final int MADV_DONTFORK = 10;
    public static final int MADV_HUGEPAGE = 14;
    public static final int MADV_DONTDUMP = 16;
    /** {@code msync(2)} flags. */
    public static final int MS_ASYNC = 1;
    public static final int MS_INVALIDATE = 2;
    public static final int MS_SYNC = 4;
    /** {@code void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)} */
    private static final Native.Lazy MMAP = Native.lazyErrnoCall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    /** {@code int munmap(void *addr, size_t len)} */
    private static final Native.Lazy MUNMAP = Native.lazyErrnoCall("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    /** {@code int madvise(void *addr, size_t len, int advice)} */
    private static final Native.Lazy MADVISE = Native.lazyErrnoCall("madvise",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    /** {@code int msync(void *addr, size_t len, int flags)} */
    private static final Native.Lazy MSYNC = Native.lazyErrnoCall("msync",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    /** {@code long sysconf(int name)} */
    private static final Native.Lazy SYSCONF = Native.lazyPlainCall("sysconf",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    private static final int SC_PAGESIZE = 30;
    private static final MemorySegment MAP_FAILED = MemorySegment.ofAddress(-1L);

    private static volatile long pageSize;

    private final Arena arena;
    private final MemorySegment segment;
    private final long address;
    private final long size;

    private Memory(Arena arena, MemorySegment segment, long address, long size) {
        this.arena = arena;
        this.segment = segment;
        this.address = address;
        this.size = size;
    }

    /**
     * Private anonymous read-write memory of {@code size} bytes, zero on first touch:
     * {@code MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE}.
     */
    public static Memory anonymous(long size) {
        return map(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, null, 0);
    }

    /**
     * A {@code MAP_SHARED | MAP_NORESERVE} mapping of {@code size} bytes of {@code fd} from
     * {@code offset} (a multiple of {@link #pageSize()}). When {@code fd} is a regular file (memfd
     * included) that ends before {@code offset + size}, fails with EINVAL instead of mapping pages
     * whose access would raise SIGBUS. The caller keeps ownership of {@code fd}; the mapping
     * stays valid after it is closed.
     */
    public static Memory shared(Fd fd, long offset, long size, int prot) {
        Objects.requireNonNull(fd, "fd");
        if (offset < 0 || size <= 0 || offset > Long.MAX_VALUE - size) {
            throw new ErrnoException("mmap(offset " + offset + ", size " + size + ")", Errno.EINVAL);
        }
        FileStat st = FileSystem.stat(fd);
        if (st.isRegular() && st.size() < offset + size) {
            throw new ErrnoException("mmap(" + fd + ", offset 0x" + Long.toHexString(offset) + ", size 0x"
                    + Long.toHexString(size) + ") past the end of a file of 0x" + Long.toHexString(st.size())
                    + " bytes", Errno.EINVAL);
        }
        return map(size, prot, MAP_SHARED | MAP_NORESERVE, fd, offset);
    }

    /**
     * {@code mmap(2)} with the given protection and flags; {@code fd} is null for anonymous
     * mappings. The kernel chooses the address ({@code MAP_FIXED} is not for this API).
     */
    @SuppressWarnings("restricted") // the segment is sized to the mapping and scoped to its arena
    public static Memory map(long size, int prot, int flags, Fd fd, long offset) {
        if (size <= 0) {
            throw new IllegalArgumentException("mapping size must be positive: " + size);
        }
        if ((flags & MAP_FIXED) != 0) {
            throw new IllegalArgumentException("MAP_FIXED is not supported");
        }
        int raw = fd == null ? -1 : fd.acquire("mmap");
        long addr;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(call);
            MemorySegment p = (MemorySegment) MMAP.handle().invokeExact(st, MemorySegment.NULL, size, prot, flags, raw, offset);
            if (p.equals(MAP_FAILED)) {
                throw new ErrnoException("mmap(size 0x" + Long.toHexString(size) + (fd == null ? "" : ", " + fd)
                        + ", offset 0x" + Long.toHexString(offset) + ")", Native.errno(st));
            }
            addr = p.address();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            if (fd != null) {
                fd.release();
            }
        }
        Arena arena = Arena.ofShared();
        long length = size;
        // SAFETY: [addr, addr + size) was just mapped by the kernel for us alone; the segment is
        // bounded to exactly that range and dies with the arena, whose closing unmaps the range
        // only after no thread can reach it any more.
        MemorySegment segment = MemorySegment.ofAddress(addr).reinterpret(size, arena, ignored -> unmap(addr, length));
        return new Memory(arena, segment, addr, size);
    }

    /** The whole mapping; inaccessible (IllegalStateException) once this object is closed. */
    public MemorySegment segment() {
        return segment;
    }

    /** The mapping's size in bytes. */
    public long size() {
        return size;
    }

    /** The mapping's start address in this process (what vhost-user calls a user address). */
    public long address() {
        return address;
    }

    /** False once {@link #close()} was called. */
    public boolean isOpen() {
        return arena.scope().isAlive();
    }

    /**
     * {@code madvise(2)} on {@code [offset, offset + length)} of this mapping; {@code offset} must
     * be page-aligned. E.g. {@link #MADV_DONTNEED} on private anonymous memory gives the pages back:
     * they read as zero afterwards.
     */
    public void advise(long offset, long length, int advice) {
        Objects.checkFromIndexSize(offset, length, size);
        call(MADVISE, "madvise", offset, length, advice);
    }

    /** {@code msync(2)} on {@code [offset, offset + length)}; {@code offset} must be page-aligned. */
    public void sync(long offset, long length, int flags) {
        Objects.checkFromIndexSize(offset, length, size);
        call(MSYNC, "msync", offset, length, flags);
    }

    private void call(Native.Lazy handle, String name, long offset, long length, int arg) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(call);
            MemorySegment range = segment.asSlice(offset, length);
            Native.check((int) handle.handle().invokeExact(st, range, length, arg), st,
                    name + "(0x" + Long.toHexString(address + offset) + ", " + length + ", " + arg + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Unmaps, {@code munmap(2)}: idempotent. Segments of this mapping become inaccessible first
     * (see the class comment).
     */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            try {
                arena.close();
            } catch (IllegalStateException alreadyClosed) {
                if (arena.scope().isAlive()) {
                    throw alreadyClosed; // held by a native call: the caller closed too early
                }
            }
        }
    }

    private static void unmap(long addr, long size) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(call);
            Native.check((int) MUNMAP.handle().invokeExact(st, MemorySegment.ofAddress(addr), size), st,
                    "munmap(0x" + Long.toHexString(addr) + ", " + size + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The system page size, {@code sysconf(_SC_PAGESIZE)}. */
    public static long pageSize() {
        long p = pageSize;
        if (p == 0) {
            try {
                p = (long) SYSCONF.handle().invokeExact(SC_PAGESIZE);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            pageSize = p;
        }
        return p;
    }

    @Override
    public String toString() {
        return "Memory[0x" + Long.toHexString(address) + ", 0x" + Long.toHexString(size) + (isOpen() ? "]" : ", unmapped]");
    }
}
