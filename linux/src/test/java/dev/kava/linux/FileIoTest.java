package dev.kava.linux;

import static dev.kava.linux.FileSystem.name;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileIoTest {
    @TempDir
    Path tmp;

    private Fd open(String file, int flags) {
        return Fd.open(tmp.resolve(file).toString(), flags | OpenFlags.O_CLOEXEC, 0644);
    }

    @Test
    void scatterGatherAcrossManySegmentsAndShortReadAtEnd() throws Exception {
        try (Arena arena = Arena.ofConfined(); Fd f = open("f", OpenFlags.O_RDWR | OpenFlags.O_CREAT)) {
            byte[] data = new byte[5000];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (i * 7);
            }
            List<MemorySegment> src = new ArrayList<>();
            int pos = 0;
            for (int size : new int[] {1, 0, 3, 1000, 7, 2989, 1000}) {
                MemorySegment s = arena.allocate(size);
                MemorySegment.copy(data, pos, s, JAVA_BYTE, 0, size);
                src.add(s);
                pos += size;
            }
            assertEquals(5000, FileIo.pwritev(f, src, 10));
            assertEquals(5010, FileSystem.stat(f).size());
            List<MemorySegment> dst = List.of(arena.allocate(2), arena.allocate(0), arena.allocate(6000));
            assertEquals(5000, FileIo.preadv(f, dst, 10));
            byte[] back = new byte[5000];
            back[0] = dst.get(0).get(JAVA_BYTE, 0);
            back[1] = dst.get(0).get(JAVA_BYTE, 1);
            MemorySegment.copy(dst.get(2), JAVA_BYTE, 0, back, 2, 4998);
            assertArrayEquals(data, back);
            assertThrows(IllegalArgumentException.class, () -> FileIo.preadv(f, List.of(MemorySegment.ofArray(new byte[4])), 0));
        }
    }

    @Test
    void moreSegmentsThanIovMaxAreWrittenInSeveralCalls() throws Exception {
        try (Arena arena = Arena.ofConfined(); Fd f = open("many", OpenFlags.O_RDWR | OpenFlags.O_CREAT)) {
            List<MemorySegment> src = new ArrayList<>();
            for (int i = 0; i < FileIo.IOV_MAX * 2 + 5; i++) {
                src.add(arena.allocateFrom(JAVA_BYTE, (byte) i));
            }
            assertEquals(src.size(), FileIo.pwritev(f, src, 0));
            byte[] b = Files.readAllBytes(tmp.resolve("many"));
            assertEquals(src.size(), b.length);
            assertEquals((byte) 1030, b[1030]);
        }
    }

    @Test
    void seekDataAndHoleInASparseFile() throws Exception {
        try (Arena arena = Arena.ofConfined(); Fd f = open("sparse", OpenFlags.O_RDWR | OpenFlags.O_CREAT)) {
            FileIo.ftruncate(f, 1 << 22);
            FileIo.pwritev(f, List.of(arena.allocate(4096).fill((byte) 1)), 1 << 21);
            assertEquals(1 << 21, FileIo.lseek(f, 0, FileIo.SEEK_DATA));
            assertEquals(0, FileIo.lseek(f, 0, FileIo.SEEK_HOLE));
            assertEquals((1 << 21) + 4096, FileIo.lseek(f, 1 << 21, FileIo.SEEK_HOLE));
            ErrnoException e = assertThrows(ErrnoException.class, () -> FileIo.lseek(f, (1 << 21) + 8192, FileIo.SEEK_DATA));
            assertEquals(Errno.ENXIO, e.errno());
            FileIo.fallocate(f, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, 1 << 21, 4096);
            assertEquals(Errno.ENXIO, assertThrows(ErrnoException.class, () -> FileIo.lseek(f, 0, FileIo.SEEK_DATA)).errno());
            FileIo.fsync(f, false);
            FileIo.fsync(f, true);
        }
    }

    @Test
    void copyFileRangeCopiesInsideTheKernel() throws Exception {
        Files.writeString(tmp.resolve("src"), "hello, world");
        try (Fd in = open("src", OpenFlags.O_RDONLY); Fd out = open("dst", OpenFlags.O_WRONLY | OpenFlags.O_CREAT)) {
            assertEquals(5, FileIo.copyFileRange(in, 7, out, 2, 5, 0));
            assertEquals(0, FileIo.copyFileRange(in, 100, out, 0, 5, 0));
        }
        assertArrayEquals(new byte[] {0, 0, 'w', 'o', 'r', 'l', 'd'}, Files.readAllBytes(tmp.resolve("dst")));
    }

    @Test
    void directoryListingResumesAtEntryOffsets() throws Exception {
        Path d = Files.createDirectory(tmp.resolve("d"));
        for (int i = 0; i < 300; i++) {
            Files.createFile(d.resolve("file-with-a-long-name-" + i));
        }
        List<String> names = new ArrayList<>();
        try (Fd dir = Fd.open(d.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_CLOEXEC, 0)) {
            long offset = 0;
            while (true) {
                FileIo.lseek(dir, offset, FileIo.SEEK_SET);
                List<Dirs.Entry> batch = Dirs.read(dir, Dirs.MIN_BUFFER);
                if (batch.isEmpty()) {
                    break;
                }
                Dirs.Entry first = batch.get(0); // take one entry per call: the worst case for resuming
                names.add(new String(first.name()));
                offset = first.nextOffset();
            }
        }
        assertEquals(302, names.size());
        assertEquals(302, names.stream().distinct().count());
        assertEquals(true, names.contains(".") && names.contains(".."));
        assertThrows(IllegalArgumentException.class, () -> Dirs.read(null, 100));
        try (Fd p = Fd.open(d.toString(), OpenFlags.O_PATH | OpenFlags.O_CLOEXEC, 0)) {
            assertEquals(Dirs.DT_REG, Dirs.read(FileSystem.reopen(p, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY), 4096)
                    .stream().filter(e -> new String(e.name()).startsWith("file")).findFirst().orElseThrow().type());
            assertEquals(Errno.ENOENT, assertThrows(ErrnoException.class, () -> FileSystem.statAt(p, name("nope"))).errno());
        }
    }
}
