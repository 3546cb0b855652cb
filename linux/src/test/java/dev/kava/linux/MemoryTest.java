package dev.kava.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class MemoryTest {
    private static final long MIB = 1024 * 1024;

    /** Lines of /proc/self/maps that start at {@code address}. */
    private static long mapsLinesAt(long address) throws IOException {
        String prefix = Long.toHexString(address) + "-";
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.startsWith(prefix)).count();
    }

    @Test
    void anonymousMappingIsZeroedWritableAndExactlySized() throws IOException {
        try (Memory m = Memory.anonymous(4 * MIB)) {
            MemorySegment s = m.segment();
            assertEquals(4 * MIB, s.byteSize());
            assertEquals(m.address(), s.address());
            assertEquals(0L, s.get(JAVA_LONG, 4 * MIB - 8));
            s.set(JAVA_LONG, 4096, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, s.get(JAVA_LONG, 4096));
            assertThrows(IndexOutOfBoundsException.class, () -> s.get(JAVA_BYTE, 4 * MIB));
            assertEquals(1, mapsLinesAt(m.address()));
        }
    }

    @Test
    void closeUnmapsAndMakesEverySegmentInaccessible() throws IOException {
        Memory m = Memory.anonymous(MIB);
        MemorySegment slice = m.segment().asSlice(8192, 16);
        slice.set(JAVA_BYTE, 0, (byte) 7);
        long address = m.address();
        m.close();
        assertFalse(m.isOpen());
        assertThrows(IllegalStateException.class, () -> slice.get(JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, () -> m.segment().get(JAVA_BYTE, 0));
        assertEquals(0, mapsLinesAt(address), "munmap'ed");
        m.close(); // idempotent
    }

    @Test
    void sharedMappingsOfOneMemfdSeeEachOthersWrites() {
        try (Fd memfd = SystemCalls.memfd("kava-memory-test", SystemCalls.MFD_CLOEXEC)) {
            FileIo.ftruncate(memfd, 2 * MIB);
            assertEquals(2 * MIB, FileSystem.stat(memfd).size());
            assertTrue(FileSystem.stat(memfd).isRegular());
            try (Memory whole = Memory.shared(memfd, 0, 2 * MIB, Memory.PROT_READ | Memory.PROT_WRITE);
                 Memory upper = Memory.shared(memfd, MIB, MIB, Memory.PROT_READ | Memory.PROT_WRITE)) {
                whole.segment().set(JAVA_LONG, MIB + 16, 42L);
                assertEquals(42L, upper.segment().get(JAVA_LONG, 16));
                upper.segment().set(JAVA_LONG, 0, -1L);
                assertEquals(-1L, whole.segment().get(JAVA_LONG, MIB));
                whole.sync(0, 2 * MIB, Memory.MS_SYNC);
            }
        }
    }

    @Test
    void sharedMappingPastTheEndOfTheFileIsRefused() {
        try (Fd memfd = SystemCalls.memfd("kava-memory-test", SystemCalls.MFD_CLOEXEC)) {
            FileIo.ftruncate(memfd, MIB);
            ErrnoException e = assertThrows(ErrnoException.class,
                    () -> Memory.shared(memfd, 0, 2 * MIB, Memory.PROT_READ | Memory.PROT_WRITE));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                    () -> Memory.shared(memfd, MIB, 4096, Memory.PROT_READ)).errno());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                    () -> Memory.shared(memfd, Long.MAX_VALUE - 10, 4096, Memory.PROT_READ)).errno());
        }
    }

    @Test
    void unalignedOffsetIsTheKernelsEinval() {
        try (Fd memfd = SystemCalls.memfd("kava-memory-test", SystemCalls.MFD_CLOEXEC)) {
            FileIo.ftruncate(memfd, MIB);
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                    () -> Memory.shared(memfd, 100, 4096, Memory.PROT_READ)).errno());
        }
    }

    @Test
    void readOnlyMappingFaultsAreNotReachableThroughTheSegmentSize() {
        try (Fd memfd = SystemCalls.memfd("kava-memory-test", SystemCalls.MFD_CLOEXEC)) {
            FileIo.ftruncate(memfd, 8192);
            try (Memory ro = Memory.shared(memfd, 0, 8192, Memory.PROT_READ)) {
                assertEquals(0, ro.segment().get(JAVA_BYTE, 8191));
                assertThrows(IndexOutOfBoundsException.class, () -> ro.segment().get(JAVA_BYTE, 8192));
            }
        }
    }

    @Test
    void dontNeedGivesPrivatePagesBack() {
        try (Memory m = Memory.anonymous(MIB)) {
            long page = Memory.pageSize();
            m.segment().set(JAVA_LONG, page, 99L);
            m.advise(page, page, Memory.MADV_DONTNEED);
            assertEquals(0L, m.segment().get(JAVA_LONG, page));
            assertThrows(IndexOutOfBoundsException.class, () -> m.advise(0, 2 * MIB, Memory.MADV_DONTNEED));
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> m.advise(1, page, Memory.MADV_DONTNEED)).errno());
        }
    }

    @Test
    void refusesNonsense() {
        assertThrows(IllegalArgumentException.class, () -> Memory.anonymous(0));
        assertThrows(IllegalArgumentException.class,
                () -> Memory.map(4096, Memory.PROT_READ, Memory.MAP_PRIVATE | Memory.MAP_ANONYMOUS | Memory.MAP_FIXED, null, 0));
        assertEquals(4096, Memory.pageSize());
    }

    @Test
    void noreserveMappingLargerThanRamCostsNothingUntilTouched() {
        try (Memory m = Memory.anonymous(64L * 1024 * MIB)) {
            m.segment().set(JAVA_LONG, 63L * 1024 * MIB, 1L);
            assertTrue(m.isOpen());
        }
    }

    @Test
    void aFileTruncatedUnderASharedMappingFaultsAsInternalErrorNotACrash() {
        try (Fd memfd = SystemCalls.memfd("kava-memory-test", SystemCalls.MFD_CLOEXEC)) {
            FileIo.ftruncate(memfd, MIB);
            try (Memory m = Memory.shared(memfd, 0, MIB, Memory.PROT_READ | Memory.PROT_WRITE)) {
                m.segment().set(JAVA_LONG, 4096, 1L);
                FileIo.ftruncate(memfd, 0);
                assertThrows(InternalError.class, () -> m.segment().get(JAVA_LONG, 4096));
                assertTrue(m.isOpen());
            }
        }
    }
}
