package dev.kava.virtio.memory;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import dev.kava.linux.Fd;
import dev.kava.linux.FileIo;
import dev.kava.linux.LinuxException;
import dev.kava.linux.Memory;
import dev.kava.linux.SystemCalls;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The guest's RAM as this process sees it: the only way kava code reads or writes guest memory.
 *
 * <p>Guest RAM is a set of non-overlapping regions, each a range of guest physical addresses
 * (GPA) backed by one mapping in this process. Addresses and sizes are unsigned 64-bit values
 * (a GPA above {@code Long.MAX_VALUE} is a negative {@code long}).
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Every access is checked before memory is touched: a scalar, a copy or a {@link #slice}
 *       must lie entirely inside one region ({@link #slices} and the copies may cross into a
 *       region that starts exactly where the previous one ends). Arithmetic is overflow-safe:
 *       {@code gpa + len} never wraps. A refused access throws {@link GuestMemoryException} and
 *       has no effect; no {@code IndexOutOfBoundsException} escapes.</li>
 *   <li>Multi-byte values are little-endian (virtio 1.x). Loads and stores of naturally aligned
 *       u16/u32/u64 values are single accesses (not torn), which the virtqueue relies on.</li>
 *   <li>Segments returned by {@link #slice} are views of guest memory, not copies: the guest can
 *       change them at any time. Copy what you validate.</li>
 *   <li>{@link #close()} unmaps every region. Segments handed out earlier then throw
 *       {@link IllegalStateException} on access (they never reach unmapped memory); methods of a
 *       closed {@code GuestMemory} throw {@link GuestMemoryException}. Close only after the
 *       users (device threads) have stopped.</li>
 *   <li>An instance is immutable apart from {@link #close()}; accesses from several threads are
 *       safe (their ordering is the caller's business, see the virtqueue's fences).</li>
 *   <li>A region whose backing file shrinks after mapping (a hostile vhost-user front-end
 *       truncating its memfd) faults on access; the JVM reports the SIGBUS as an
 *       {@link InternalError}, which this class turns into a {@link GuestMemoryException}. Users of
 *       slices see the {@code InternalError} itself, and so may a bulk copy's caller: HotSpot can
 *       deliver that fault asynchronously, just after the copy returned (seen under load), so code
 *       on a data path catches {@code InternalError} too.</li>
 * </ul>
 *
 * <h2>Where the memory comes from</h2>
 * {@link #anonymous} (tests), {@link #memfd} (the built-in VMM; its file can be shared with a
 * vhost-user back-end), and {@link #mapShared} (a vhost-user front-end's {@code SET_MEM_TABLE}).
 * Each region also records its address in the process that owns the VM ("user address"), which
 * vhost-user uses for ring addresses: {@link #guestAddressOfUser} translates them.
 */
public final class GuestMemory implements AutoCloseable {
    /** Most regions one instance holds (a bound on the work a hostile table can cause). */
    public static final int MAX_REGIONS = 512;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A range of guest physical addresses to back with fresh memory. */
    public record Range(long guestAddress, long size) {
        public Range {
            if (size <= 0) {
                throw new IllegalArgumentException("size must be positive: " + size);
            }
            if (wraps(guestAddress, size)) {
                throw new IllegalArgumentException("range 0x" + Long.toHexString(guestAddress) + " + 0x"
                        + Long.toHexString(size) + " passes the end of the address space");
            }
        }
    }

    /**
     * One mapped region as seen from outside: its guest physical range, its address in the process
     * that owns the VM (this one, or the vhost-user front-end), and its offset in its backing file
     * (0 for anonymous memory).
     */
    public record Region(long guestAddress, long size, long userAddress, long fileOffset) {
        /** The first guest physical address after the region (unsigned; never wraps). */
        public long guestEnd() {
            return guestAddress + size;
        }
    }

    /**
     * A region of a vhost-user {@code SET_MEM_TABLE}: a guest range, the front-end's user address
     * of it, and where it starts in the shared file {@code fd}.
     */
    public record SharedRegion(long guestAddress, long size, long userAddress, long mmapOffset, Fd fd) {
        public SharedRegion {
            Objects.requireNonNull(fd, "fd");
        }
    }

    /** A region and its mapping. */
    private record Mapped(Region region, MemorySegment segment) {
        long gpa() {
            return region.guestAddress();
        }

        long size() {
            return region.size();
        }
    }

    private final Mapped[] byGuest;
    private final Mapped[] byUser;
    private final List<Region> regions;
    private final List<Memory> mappings;
    private final Fd file;
    private volatile boolean closed;

    private GuestMemory(List<Mapped> mapped, List<Memory> mappings, Fd file) {
        this.byGuest = mapped.toArray(Mapped[]::new);
        Arrays.sort(byGuest, Comparator.comparing(Mapped::gpa, Long::compareUnsigned));
        this.byUser = mapped.toArray(Mapped[]::new);
        Arrays.sort(byUser, Comparator.comparing(m -> m.region().userAddress(), Long::compareUnsigned));
        this.regions = Arrays.stream(byGuest).map(Mapped::region).toList();
        this.mappings = List.copyOf(mappings);
        this.file = file;
    }

    // ---------------------------------------------------------------- factories

    /** {@code size} bytes of private anonymous memory at guest address 0 (for tests). */
    public static GuestMemory anonymous(long size) {
        return anonymous(List.of(new Range(0, size)));
    }

    /**
     * Private anonymous memory ({@code MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE}, zero and free
     * until touched) for each range. Ranges must not overlap.
     */
    public static GuestMemory anonymous(List<Range> ranges) {
        checkRanges(ranges);
        List<Memory> mappings = new ArrayList<>();
        List<Mapped> mapped = new ArrayList<>();
        try {
            for (Range r : ranges) {
                Memory m = Memory.anonymous(r.size());
                mappings.add(m);
                mapped.add(new Mapped(new Region(r.guestAddress(), r.size(), m.address(), 0), m.segment()));
            }
            return new GuestMemory(mapped, mappings, null);
        } catch (RuntimeException e) {
            mappings.forEach(Memory::close);
            throw e;
        }
    }

    /**
     * Memory backed by one new memfd named {@code name}, each range mapped {@code MAP_SHARED} at
     * consecutive file offsets, so that another process given {@link #file()} and
     * {@link #regions()} can map the same RAM. Sizes must be multiples of the page size.
     */
    public static GuestMemory memfd(String name, List<Range> ranges) {
        checkRanges(ranges);
        long page = Memory.pageSize();
        long total = 0;
        for (Range r : ranges) {
            if (r.size() % page != 0) {
                throw new IllegalArgumentException("memfd-backed region sizes must be page multiples: 0x" + Long.toHexString(r.size()));
            }
            total = Math.addExact(total, r.size());
        }
        Fd fd = SystemCalls.memfd(name, SystemCalls.MFD_CLOEXEC | SystemCalls.MFD_ALLOW_SEALING);
        List<Memory> mappings = new ArrayList<>();
        try {
            FileIo.ftruncate(fd, total);
            List<Mapped> mapped = new ArrayList<>();
            long offset = 0;
            for (Range r : ranges) {
                Memory m = Memory.shared(fd, offset, r.size(), Memory.PROT_READ | Memory.PROT_WRITE);
                mappings.add(m);
                mapped.add(new Mapped(new Region(r.guestAddress(), r.size(), m.address(), offset), m.segment()));
                offset += r.size();
            }
            return new GuestMemory(mapped, mappings, fd);
        } catch (RuntimeException e) {
            mappings.forEach(Memory::close);
            fd.close();
            throw e;
        }
    }

    /**
     * Maps a vhost-user front-end's memory table: each region's {@code fd} {@code MAP_SHARED} from
     * {@code mmapOffset} for {@code size} bytes. Everything the front-end said is checked first:
     * at most {@link #MAX_REGIONS} regions, positive sizes, no guest or user range that wraps
     * around the address space, no two regions overlapping in guest or user addresses, offsets
     * that fit, and mappings that stay inside their files.
     *
     * <p>Takes ownership of every {@code fd} and closes them all before returning, on success and
     * on failure (the mappings keep the files alive).
     */
    public static GuestMemory mapShared(List<SharedRegion> table) throws GuestMemoryException {
        List<Memory> mappings = new ArrayList<>();
        try {
            if (table.isEmpty() || table.size() > MAX_REGIONS) {
                throw new GuestMemoryException("a memory table needs 1.." + MAX_REGIONS + " regions, not " + table.size(), 0, 0);
            }
            for (SharedRegion r : table) {
                if (r.size() <= 0 || wraps(r.guestAddress(), r.size()) || wraps(r.userAddress(), r.size())) {
                    throw new GuestMemoryException("invalid region: guest 0x" + Long.toHexString(r.guestAddress())
                            + " user 0x" + Long.toHexString(r.userAddress()) + " size 0x" + Long.toHexString(r.size()),
                            r.guestAddress(), r.size());
                }
                if (r.mmapOffset() < 0 || r.mmapOffset() > Long.MAX_VALUE - r.size()) {
                    throw new GuestMemoryException("invalid mmap offset 0x" + Long.toHexString(r.mmapOffset())
                            + " for size 0x" + Long.toHexString(r.size()), r.guestAddress(), r.size());
                }
            }
            checkNoOverlap(table, SharedRegion::guestAddress, "guest");
            checkNoOverlap(table, SharedRegion::userAddress, "user");
            long page = Memory.pageSize();
            List<Mapped> mapped = new ArrayList<>();
            for (SharedRegion r : table) {
                // mmap wants a page-aligned offset: map from the page start, then slice
                long lead = r.mmapOffset() % page;
                Memory m;
                try {
                    m = Memory.shared(r.fd(), r.mmapOffset() - lead, r.size() + lead, Memory.PROT_READ | Memory.PROT_WRITE);
                } catch (LinuxException e) {
                    throw new GuestMemoryException("cannot map region at guest 0x" + Long.toHexString(r.guestAddress())
                            + ": " + e.getMessage(), r.guestAddress(), r.size());
                }
                mappings.add(m);
                mapped.add(new Mapped(new Region(r.guestAddress(), r.size(), r.userAddress(), r.mmapOffset()),
                        m.segment().asSlice(lead, r.size())));
            }
            return new GuestMemory(mapped, mappings, null);
        } catch (GuestMemoryException | RuntimeException e) {
            mappings.forEach(Memory::close);
            throw e;
        } finally {
            for (SharedRegion r : table) {
                r.fd().close();
            }
        }
    }

    private static void checkRanges(List<Range> ranges) {
        if (ranges.isEmpty() || ranges.size() > MAX_REGIONS) {
            throw new IllegalArgumentException("1.." + MAX_REGIONS + " ranges, not " + ranges.size());
        }
        List<Range> sorted = new ArrayList<>(ranges);
        sorted.sort(Comparator.comparing(Range::guestAddress, Long::compareUnsigned));
        for (int i = 1; i < sorted.size(); i++) {
            Range prev = sorted.get(i - 1);
            if (Long.compareUnsigned(prev.guestAddress() + prev.size(), sorted.get(i).guestAddress()) > 0) {
                throw new IllegalArgumentException("ranges overlap: " + prev + " and " + sorted.get(i));
            }
        }
    }

    private static void checkNoOverlap(List<SharedRegion> table, java.util.function.ToLongFunction<SharedRegion> start,
                                       String what) throws GuestMemoryException {
        List<SharedRegion> sorted = new ArrayList<>(table);
        sorted.sort((a, b) -> Long.compareUnsigned(start.applyAsLong(a), start.applyAsLong(b)));
        for (int i = 1; i < sorted.size(); i++) {
            SharedRegion prev = sorted.get(i - 1);
            long next = start.applyAsLong(sorted.get(i));
            if (Long.compareUnsigned(start.applyAsLong(prev) + prev.size(), next) > 0) {
                throw new GuestMemoryException("regions overlap in " + what + " addresses at 0x" + Long.toHexString(next), next, 0);
            }
        }
    }

    /** True when {@code start + size} (unsigned, size > 0) passes 2^64 or reaches it exactly. */
    private static boolean wraps(long start, long size) {
        return Long.compareUnsigned(start + size, start) <= 0;
    }

    // ---------------------------------------------------------------- description

    /** The regions, by ascending guest address. */
    public List<Region> regions() {
        return regions;
    }

    /** The memfd behind {@link #memfd} memory (owned by this object), else empty. */
    public Optional<Fd> file() {
        return Optional.ofNullable(file);
    }

    /** The sum of the region sizes. */
    public long size() {
        long total = 0;
        for (Region r : regions) {
            total += r.size();
        }
        return total;
    }

    /** Whether {@code [gpa, gpa + len)} lies entirely inside one region ({@code len >= 0}). */
    public boolean contains(long gpa, long len) {
        if (closed || len < 0) {
            return false;
        }
        Mapped m = find(byGuest, gpa, false);
        return m != null && len <= m.size() - (gpa - m.gpa());
    }

    // ---------------------------------------------------------------- access

    /**
     * A view of {@code [gpa, gpa + len)}, which must lie entirely inside one region
     * ({@code 0 <= len <= region size}).
     */
    public MemorySegment slice(long gpa, long len) throws GuestMemoryException {
        Mapped m = region(gpa, len);
        return m.segment().asSlice(gpa - m.gpa(), len);
    }

    /**
     * Views covering {@code [gpa, gpa + len)}, one per region crossed: regions must follow each
     * other without a gap. {@code len == 0} gives an empty list if {@code gpa} is inside a region.
     */
    public List<MemorySegment> slices(long gpa, long len) throws GuestMemoryException {
        checkOpen(gpa, len);
        if (len < 0) {
            throw new GuestMemoryException("negative length " + len, gpa, len);
        }
        Mapped first = find(byGuest, gpa, false);
        if (first == null) {
            throw outside(gpa, len);
        }
        long inFirst = first.size() - (gpa - first.gpa());
        if (len <= inFirst) {
            return len == 0 ? List.of() : List.of(first.segment().asSlice(gpa - first.gpa(), len));
        }
        List<MemorySegment> out = new ArrayList<>(2);
        long at = gpa;
        long left = len;
        Mapped m = first;
        while (true) {
            long off = at - m.gpa();
            long take = Math.min(left, m.size() - off);
            out.add(m.segment().asSlice(off, take));
            left -= take;
            if (left == 0) {
                return List.copyOf(out);
            }
            at = m.gpa() + m.size(); // never wraps: regions end below 2^64
            m = find(byGuest, at, false);
            if (m == null || m.gpa() != at) {
                throw outside(gpa, len);
            }
        }
    }

    public int readU8(long gpa) throws GuestMemoryException {
        Mapped m = region(gpa, 1);
        return guard(() -> m.segment().get(JAVA_BYTE, gpa - m.gpa()) & 0xff, gpa, 1);
    }

    /** The little-endian u16 at {@code gpa}, as 0..65535. */
    public int readU16(long gpa) throws GuestMemoryException {
        Mapped m = region(gpa, 2);
        return guard(() -> m.segment().get(U16, gpa - m.gpa()) & 0xffff, gpa, 2);
    }

    /** The little-endian u32 at {@code gpa}, as its bits ({@link Integer#toUnsignedLong} for the value). */
    public int readU32(long gpa) throws GuestMemoryException {
        Mapped m = region(gpa, 4);
        return guard(() -> m.segment().get(U32, gpa - m.gpa()), gpa, 4);
    }

    /** The little-endian u64 at {@code gpa}, as its bits. */
    public long readU64(long gpa) throws GuestMemoryException {
        Mapped m = region(gpa, 8);
        try {
            return m.segment().get(U64, gpa - m.gpa());
        } catch (IllegalStateException e) {
            throw closedDuring(gpa, 8);
        } catch (InternalError e) {
            throw fault(gpa, 8, e);
        }
    }

    public void writeU8(long gpa, int value) throws GuestMemoryException {
        Mapped m = region(gpa, 1);
        run(() -> m.segment().set(JAVA_BYTE, gpa - m.gpa(), (byte) value), gpa, 1);
    }

    /** Stores the low 16 bits of {@code value}, little-endian. */
    public void writeU16(long gpa, int value) throws GuestMemoryException {
        Mapped m = region(gpa, 2);
        run(() -> m.segment().set(U16, gpa - m.gpa(), (short) value), gpa, 2);
    }

    public void writeU32(long gpa, int value) throws GuestMemoryException {
        Mapped m = region(gpa, 4);
        run(() -> m.segment().set(U32, gpa - m.gpa(), value), gpa, 4);
    }

    public void writeU64(long gpa, long value) throws GuestMemoryException {
        Mapped m = region(gpa, 8);
        run(() -> m.segment().set(U64, gpa - m.gpa(), value), gpa, 8);
    }

    /** Copies {@code len} bytes at {@code gpa} into {@code dst[off..]}. */
    public void read(long gpa, byte[] dst, int off, int len) throws GuestMemoryException {
        Objects.checkFromIndexSize(off, len, dst.length);
        long at = off;
        for (MemorySegment s : slices(gpa, len)) {
            long n = s.byteSize();
            long from = at;
            run(() -> MemorySegment.copy(s, JAVA_BYTE, 0, dst, (int) from, (int) n), gpa, len);
            at += n;
        }
    }

    /** Copies {@code src[off..off + len)} to guest memory at {@code gpa}. */
    public void write(long gpa, byte[] src, int off, int len) throws GuestMemoryException {
        Objects.checkFromIndexSize(off, len, src.length);
        long at = off;
        for (MemorySegment s : slices(gpa, len)) {
            long n = s.byteSize();
            long from = at;
            run(() -> MemorySegment.copy(src, (int) from, s, JAVA_BYTE, 0, (int) n), gpa, len);
            at += n;
        }
    }

    /** Copies {@code dst.byteSize()} bytes at {@code gpa} into {@code dst}. */
    public void read(long gpa, MemorySegment dst) throws GuestMemoryException {
        long at = 0;
        for (MemorySegment s : slices(gpa, dst.byteSize())) {
            long from = at;
            run(() -> MemorySegment.copy(s, 0, dst, from, s.byteSize()), gpa, dst.byteSize());
            at += s.byteSize();
        }
    }

    /** Copies all of {@code src} to guest memory at {@code gpa}. */
    public void write(long gpa, MemorySegment src) throws GuestMemoryException {
        long at = 0;
        for (MemorySegment s : slices(gpa, src.byteSize())) {
            long from = at;
            run(() -> MemorySegment.copy(src, from, s, 0, s.byteSize()), gpa, src.byteSize());
            at += s.byteSize();
        }
    }

    /**
     * The guest physical address of a front-end user address, when
     * {@code [userAddress, userAddress + len)} lies inside one region: how vhost-user ring
     * addresses (which are user addresses of the front-end) become guest addresses.
     */
    public long guestAddressOfUser(long userAddress, long len) throws GuestMemoryException {
        checkOpen(userAddress, len);
        Mapped m = find(byUser, userAddress, true);
        if (m == null || len < 0 || len > m.size() - (userAddress - m.region().userAddress())) {
            throw new GuestMemoryException("user range 0x" + Long.toHexString(userAddress) + " + " + len
                    + " is not inside one region", userAddress, len);
        }
        return m.gpa() + (userAddress - m.region().userAddress());
    }

    /** Unmaps every region and closes the memfd, if any; idempotent. See the class comment. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        for (Memory m : mappings) {
            try {
                m.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (file != null) {
            file.close();
        }
        if (first != null) {
            throw first;
        }
    }

    /** False once closed. */
    public boolean isOpen() {
        return !closed;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("GuestMemory[");
        for (Region r : regions) {
            sb.append(sb.length() > 12 ? ", " : "").append("0x").append(Long.toHexString(r.guestAddress()))
                    .append("+0x").append(Long.toHexString(r.size()));
        }
        return sb.append(closed ? ", closed]" : "]").toString();
    }

    // ---------------------------------------------------------------- lookup

    /** The region holding all of {@code [gpa, gpa + len)}. */
    private Mapped region(long gpa, long len) throws GuestMemoryException {
        checkOpen(gpa, len);
        Mapped m = find(byGuest, gpa, false);
        // gpa - m.gpa() < m.size() <= Long.MAX_VALUE, so the difference is a valid non-negative long
        if (m == null || len < 0 || len > m.size() - (gpa - m.gpa())) {
            throw outside(gpa, len);
        }
        return m;
    }

    /** The region whose (guest or user) range contains {@code address}, or null. */
    private static Mapped find(Mapped[] sorted, long address, boolean user) {
        int lo = 0;
        int hi = sorted.length - 1;
        Mapped hit = null;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            long start = user ? sorted[mid].region().userAddress() : sorted[mid].gpa();
            if (Long.compareUnsigned(start, address) <= 0) {
                hit = sorted[mid];
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        if (hit == null) {
            return null;
        }
        long start = user ? hit.region().userAddress() : hit.gpa();
        return Long.compareUnsigned(address - start, hit.size()) < 0 ? hit : null;
    }

    private void checkOpen(long address, long len) throws GuestMemoryException {
        if (closed) {
            throw new GuestMemoryException("guest memory is closed", address, len);
        }
    }

    private static GuestMemoryException outside(long gpa, long len) {
        return new GuestMemoryException("guest range 0x" + Long.toHexString(gpa) + " + " + len
                + " is not inside guest memory", gpa, len);
    }

    private static GuestMemoryException closedDuring(long gpa, long len) {
        return new GuestMemoryException("guest memory was closed during the access", gpa, len);
    }

    @FunctionalInterface
    private interface IntAccess {
        int get();
    }

    /**
     * A shared mapping whose file shrank under it (a hostile vhost-user front-end can truncate its
     * memfd) raises SIGBUS on access; the JVM turns that into an {@link InternalError}.
     */
    private static GuestMemoryException fault(long gpa, long len, InternalError e) {
        return new GuestMemoryException("fault accessing guest memory at 0x" + Long.toHexString(gpa)
                + " (was its file truncated?): " + e.getMessage(), gpa, len);
    }

    private static int guard(IntAccess access, long gpa, long len) throws GuestMemoryException {
        try {
            return access.get();
        } catch (IllegalStateException e) {
            throw closedDuring(gpa, len);
        } catch (InternalError e) {
            throw fault(gpa, len, e);
        }
    }

    private static void run(Runnable access, long gpa, long len) throws GuestMemoryException {
        try {
            access.run();
        } catch (IllegalStateException e) {
            throw closedDuring(gpa, len);
        } catch (InternalError e) {
            throw fault(gpa, len, e);
        }
    }
}
