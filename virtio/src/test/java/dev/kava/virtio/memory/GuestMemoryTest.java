package dev.kava.virtio.memory;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Fd;
import dev.kava.linux.FileIo;
import dev.kava.linux.FileSystem;
import dev.kava.linux.Memory;
import dev.kava.linux.SystemCalls;
import dev.kava.virtio.memory.GuestMemory.Range;
import dev.kava.virtio.memory.GuestMemory.SharedRegion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GuestMemoryTest {
    private static final long MIB = 1 << 20;

    /** Two regions with a hole: [0, 1 MiB) and [2 MiB, 3 MiB). */
    private static GuestMemory withHole() {
        return GuestMemory.anonymous(List.of(new Range(0, MIB), new Range(2 * MIB, MIB)));
    }

    @Test
    void scalarsAreLittleEndianAndRoundTrip() throws Exception {
        try (GuestMemory mem = GuestMemory.anonymous(MIB)) {
            mem.writeU64(0x100, 0x0102030405060708L);
            assertEquals(0x08, mem.readU8(0x100));
            assertEquals(0x0708, mem.readU16(0x100));
            assertEquals(0x05060708, mem.readU32(0x100));
            assertEquals(0x0102030405060708L, mem.readU64(0x100));
            mem.writeU16(0x200, 0xfffe);
            assertEquals(0xfffe, mem.readU16(0x200), "u16 reads as 0..65535");
            mem.writeU32(0x300, 0xdeadbeef);
            assertEquals(0xdeadbeefL, Integer.toUnsignedLong(mem.readU32(0x300)));
            mem.writeU8(MIB - 1, 0xab);
            assertEquals(0xab, mem.readU8(MIB - 1));
        }
    }

    @Test
    void everyAccessOutsideTheRegionsIsRefusedWithoutTouchingMemory() throws Exception {
        try (GuestMemory mem = withHole()) {
            mem.writeU64(MIB - 8, -1L);
            assertThrows(GuestMemoryException.class, () -> mem.readU64(MIB - 4), "straddles the end of region 0");
            assertThrows(GuestMemoryException.class, () -> mem.writeU64(MIB - 4, 0));
            assertEquals(-1L, mem.readU64(MIB - 8), "a refused write writes nothing");
            assertThrows(GuestMemoryException.class, () -> mem.readU8(MIB), "the hole");
            assertThrows(GuestMemoryException.class, () -> mem.readU8(2 * MIB - 1), "the hole");
            assertEquals(0, mem.readU8(2 * MIB));
            assertThrows(GuestMemoryException.class, () -> mem.readU8(3 * MIB), "past the last region");
            assertThrows(GuestMemoryException.class, () -> mem.slice(MIB - 16, 32), "a slice across the hole");
            assertThrows(GuestMemoryException.class, () -> mem.slices(MIB - 16, 32), "slices across the hole");
            assertThrows(GuestMemoryException.class, () -> mem.read(MIB - 4, new byte[8], 0, 8));
            assertThrows(GuestMemoryException.class, () -> mem.write(3 * MIB - 4, new byte[8], 0, 8));
            assertThrows(GuestMemoryException.class, () -> mem.slice(0, -1), "negative length");
            assertFalse(mem.contains(MIB - 1, 2));
            assertTrue(mem.contains(MIB - 1, 1));
            assertTrue(mem.contains(2 * MIB, MIB));
        }
    }

    @Test
    void addressArithmeticCannotOverflowIntoMemory() throws Exception {
        try (GuestMemory mem = GuestMemory.anonymous(MIB)) {
            // gpa + len wraps around 2^64 to a small address inside memory
            assertThrows(GuestMemoryException.class, () -> mem.slice(-8, 16));
            assertThrows(GuestMemoryException.class, () -> mem.slice(-1, 1));
            assertThrows(GuestMemoryException.class, () -> mem.slice(16, Long.MAX_VALUE));
            assertThrows(GuestMemoryException.class, () -> mem.slice(16, Long.MIN_VALUE));
            assertThrows(GuestMemoryException.class, () -> mem.slices(-16, 32));
            assertThrows(GuestMemoryException.class, () -> mem.readU64(Long.MIN_VALUE));
            assertThrows(GuestMemoryException.class, () -> mem.guestAddressOfUser(-1, 16));
            assertEquals(MIB, mem.slice(0, MIB).byteSize(), "the whole region is one slice");
            assertThrows(GuestMemoryException.class, () -> mem.slice(0, MIB + 1));
        }
    }

    @Test
    void regionsNearTheTopOfTheAddressSpaceWork() throws Exception {
        long top = 0xFFFF_FFFF_FFFE_0000L;
        try (GuestMemory mem = GuestMemory.anonymous(List.of(new Range(top, 0x10000)))) {
            mem.writeU64(top + 0xFFF8, 7);
            assertEquals(7, mem.readU64(top + 0xFFF8));
            assertThrows(GuestMemoryException.class, () -> mem.readU64(top + 0xFFFC));
            assertThrows(GuestMemoryException.class, () -> mem.readU8(top - 1));
            assertEquals(0x10000, mem.slice(top, 0x10000).byteSize());
        }
        assertThrows(IllegalArgumentException.class, () -> new Range(0xFFFF_FFFF_FFFF_0000L, 0x10000), "reaches 2^64");
        assertThrows(IllegalArgumentException.class, () -> new Range(-4096, 8192), "wraps");
        assertThrows(IllegalArgumentException.class, () -> new Range(0, 0));
        assertThrows(IllegalArgumentException.class,
                () -> GuestMemory.anonymous(List.of(new Range(0, 2 * MIB), new Range(MIB, MIB))), "overlap");
    }

    @Test
    void slicesAreViewsAndMayCrossAdjacentRegions() throws Exception {
        try (GuestMemory mem = GuestMemory.anonymous(List.of(new Range(0, MIB), new Range(MIB, MIB)))) {
            MemorySegment view = mem.slice(0x1000, 16);
            view.set(JAVA_LONG, 8, 0x55L);
            assertEquals(0x55L, mem.readU64(0x1008), "a slice is a view, not a copy");
            List<MemorySegment> across = mem.slices(MIB - 8, 24);
            assertEquals(List.of(8L, 16L), across.stream().map(MemorySegment::byteSize).toList());
            byte[] data = new byte[24];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) i;
            }
            mem.write(MIB - 8, data, 0, data.length);
            byte[] back = new byte[24];
            mem.read(MIB - 8, back, 0, back.length);
            assertArrayEquals(data, back);
            assertEquals(8, across.get(1).get(JAVA_BYTE, 0));
            assertThrows(GuestMemoryException.class, () -> mem.slice(MIB - 8, 24), "one slice never crosses regions");
            assertEquals(List.of(), mem.slices(0x10, 0));
            MemorySegment dst = MemorySegment.ofArray(new byte[24]);
            mem.read(MIB - 8, dst);
            assertArrayEquals(data, dst.toArray(JAVA_BYTE));
        }
    }

    @Test
    void memfdMemoryIsSharedThroughItsFile() throws Exception {
        try (GuestMemory mem = GuestMemory.memfd("kava-test-ram", List.of(new Range(0, MIB), new Range(4 * MIB, MIB)))) {
            Fd file = mem.file().orElseThrow();
            assertEquals(2 * MIB, FileSystem.stat(file).size());
            assertEquals(List.of(0L, MIB), mem.regions().stream().map(GuestMemory.Region::fileOffset).toList());
            mem.writeU64(4 * MIB + 16, 0x1234L);
            try (Memory other = Memory.shared(file, MIB, MIB, Memory.PROT_READ)) {
                assertEquals(0x1234L, other.segment().get(JAVA_LONG, 16), "another mapping of the file sees the guest's RAM");
            }
            assertEquals(2 * MIB, mem.size());
        }
    }

    @Test
    void vhostUserTablesMapEachRegionAtItsOffsetAndTranslateUserAddresses() throws Exception {
        // the shape QEMU 7.2 sends for microvm: one memfd, [0, 0xf0000) and [0x100000, end) at their offsets
        long userBase = 0x7f00_0000_0000L;
        try (Fd memfd = SystemCalls.memfd("kava-test-frontend", SystemCalls.MFD_CLOEXEC)) {
            FileIo.ftruncate(memfd, 4 * MIB);
            try (Memory frontEnd = Memory.shared(memfd, 0, 4 * MIB, Memory.PROT_READ | Memory.PROT_WRITE)) {
                frontEnd.segment().set(JAVA_LONG, 0x100008, 0xabcdL);
                Fd a = memfd.dup();
                Fd b = memfd.dup();
                try (GuestMemory mem = GuestMemory.mapShared(List.of(
                        new SharedRegion(0, 0xf0000, userBase, 0, a),
                        new SharedRegion(0x100000, 3 * MIB, userBase + 0x100000, 0x100000, b)))) {
                    assertFalse(a.isOpen(), "fds are closed once mapped");
                    assertFalse(b.isOpen());
                    assertEquals(0xabcdL, mem.readU64(0x100008));
                    mem.writeU32(0x10, 99);
                    assertEquals(99, frontEnd.segment().get(java.lang.foreign.ValueLayout.JAVA_INT, 0x10));
                    assertEquals(0x100010L, mem.guestAddressOfUser(userBase + 0x100010, 64));
                    assertEquals(0x40L, mem.guestAddressOfUser(userBase + 0x40, 0x100));
                    assertThrows(GuestMemoryException.class, () -> mem.guestAddressOfUser(userBase + 0xf0000, 1), "the hole");
                    assertThrows(GuestMemoryException.class, () -> mem.guestAddressOfUser(userBase + 0xeffff, 2), "across the hole");
                    assertThrows(GuestMemoryException.class, () -> mem.guestAddressOfUser(userBase - 1, 1));
                    assertThrows(GuestMemoryException.class, () -> mem.readU8(0xf0000));
                }
            }
        }
    }

    @Test
    void vhostUserTablesThatLieAreRefusedAndTheirFdsClosed() throws Exception {
        try (Fd memfd = SystemCalls.memfd("kava-test-frontend", SystemCalls.MFD_CLOEXEC)) {
            FileIo.ftruncate(memfd, MIB);
            List<List<SharedRegion>> bad = new ArrayList<>();
            List<Fd> handedOver = new ArrayList<>();
            java.util.function.Supplier<Fd> fd = () -> {
                Fd d = memfd.dup();
                handedOver.add(d);
                return d;
            };
            bad.add(List.of(new SharedRegion(0, 2 * MIB, 0x1000_0000, 0, fd.get())));                  // past the end of the file
            bad.add(List.of(new SharedRegion(0, MIB / 2, 0x1000_0000, MIB, fd.get())));                // offset at the end
            bad.add(List.of(new SharedRegion(0, 0, 0x1000_0000, 0, fd.get())));                        // empty
            bad.add(List.of(new SharedRegion(-4096, 8192, 0x1000_0000, 0, fd.get())));                 // guest range wraps
            bad.add(List.of(new SharedRegion(0, 8192, -4096, 0, fd.get())));                           // user range wraps
            bad.add(List.of(new SharedRegion(0, 8192, 0x1000_0000, Long.MAX_VALUE - 4096, fd.get()))); // offset + size overflows
            bad.add(List.of(new SharedRegion(0, 8192, 0x1000_0000, -4096, fd.get())));                 // negative offset
            bad.add(List.of(new SharedRegion(0, 8192, 0x1000_0000, 0, fd.get()),
                    new SharedRegion(4096, 8192, 0x2000_0000, 0, fd.get())));                          // guest overlap
            bad.add(List.of(new SharedRegion(0, 8192, 0x1000_0000, 0, fd.get()),
                    new SharedRegion(0x10000, 8192, 0x1000_1000, 0, fd.get())));                       // user overlap
            bad.add(List.of());                                                                         // no regions
            for (List<SharedRegion> table : bad) {
                assertThrows(GuestMemoryException.class, () -> GuestMemory.mapShared(table), table.toString());
            }
            assertTrue(handedOver.stream().noneMatch(Fd::isOpen), "every fd handed over is closed");
        }
    }

    @Test
    void unalignedMmapOffsetsAreMappedFromTheirPage() throws Exception {
        try (Fd memfd = SystemCalls.memfd("kava-test-frontend", SystemCalls.MFD_CLOEXEC)) {
            FileIo.ftruncate(memfd, MIB);
            try (Memory frontEnd = Memory.shared(memfd, 0, MIB, Memory.PROT_READ | Memory.PROT_WRITE);
                 GuestMemory mem = GuestMemory.mapShared(List.of(new SharedRegion(0x10000, 0x1000, 0x5000_0100, 0x100, memfd.dup())))) {
                frontEnd.segment().set(JAVA_LONG, 0x108, 77L);
                assertEquals(77L, mem.readU64(0x10008));
                assertEquals(0x1000, mem.slice(0x10000, 0x1000).byteSize());
                assertThrows(GuestMemoryException.class, () -> mem.slice(0x10000, 0x1001));
            }
        }
    }

    @Test
    void closedMemoryRefusesAccessAndOldViewsCannotReachUnmappedPages() throws Exception {
        GuestMemory mem = GuestMemory.anonymous(MIB);
        MemorySegment view = mem.slice(0x100, 8);
        mem.close();
        assertFalse(mem.isOpen());
        assertThrows(GuestMemoryException.class, () -> mem.readU8(0));
        assertThrows(GuestMemoryException.class, () -> mem.slice(0, 8));
        assertFalse(mem.contains(0, 1));
        assertThrows(IllegalStateException.class, () -> view.get(JAVA_BYTE, 0));
        mem.close();
    }

    @Test
    void aRegionWhoseFileShrankFaultsAsAGuestMemoryException() throws Exception {
        try (Fd memfd = SystemCalls.memfd("kava-test-frontend", SystemCalls.MFD_CLOEXEC)) {
            FileIo.ftruncate(memfd, MIB);
            try (GuestMemory mem = GuestMemory.mapShared(List.of(new SharedRegion(0, MIB, 0x4000_0000, 0, memfd.dup())))) {
                mem.writeU64(0x2000, 5);
                FileIo.ftruncate(memfd, 0); // what a hostile front-end can do to its memfd
                // HotSpot may deliver the SIGBUS a little after the access that caused it, as an
                // asynchronous InternalError (seen under load): each access fails in one of the two
                // forms, and the process never crashes
                List<org.junit.jupiter.api.function.Executable> accesses = List.of(() -> mem.readU64(0x2000),
                        () -> mem.writeU16(0x2000, 1), () -> mem.read(0x2000, new byte[64], 0, 64));
                for (var access : accesses) {
                    Throwable t = assertThrows(Throwable.class, access);
                    assertTrue(t instanceof GuestMemoryException e ? e.getMessage().contains("fault") : t instanceof InternalError,
                            t.toString());
                }
            }
        }
    }
}
