package dev.kava.linux;

import static dev.kava.linux.FileSystem.name;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSystemTest {
    private static final int PATH = OpenFlags.O_PATH | OpenFlags.O_NOFOLLOW;
    private static final long CONFINED = FileSystem.RESOLVE_BENEATH | FileSystem.RESOLVE_NO_SYMLINKS;

    @TempDir
    Path tmp;
    Path share;
    Path canary;

    @BeforeEach
    void layout() throws Exception {
        share = Files.createDirectory(tmp.resolve("share"));
        canary = Files.writeString(tmp.resolve("canary"), "outside");
        Files.setPosixFilePermissions(canary, PosixFilePermissions.fromString("rw-------"));
        Files.setLastModifiedTime(canary, FileTime.fromMillis(1_000_000_000_000L));
    }

    private Fd root() {
        return Fd.open(share.toString(), OpenFlags.O_PATH | OpenFlags.O_DIRECTORY | OpenFlags.O_CLOEXEC, 0);
    }

    private static int errno(Runnable r) {
        return assertThrows(ErrnoException.class, r::run).errno();
    }

    @Test
    void openat2BeneathRefusesDotDotAbsoluteAndEscapingSymlinks() throws Exception {
        Files.createSymbolicLink(share.resolve("abs"), Path.of("/"));
        Files.createSymbolicLink(share.resolve("rel"), Path.of("../canary"));
        try (Fd root = root()) {
            assertEquals(Errno.EXDEV, errno(() -> FileSystem.openat2(root, name(".."), PATH, 0, CONFINED)));
            assertEquals(Errno.EXDEV, errno(() -> FileSystem.openat2(root, name("../canary"), PATH, 0, CONFINED)));
            assertEquals(Errno.ELOOP, errno(() -> FileSystem.openat2(root, name("abs/etc"), PATH, 0, CONFINED)));
            assertEquals(Errno.ELOOP, errno(() -> FileSystem.openat2(root, name("rel"), OpenFlags.O_RDONLY, 0, CONFINED)));
            // with O_PATH|O_NOFOLLOW the trailing symlink itself is the result
            try (Fd link = FileSystem.openat2(root, name("rel"), PATH, 0, CONFINED)) {
                assertTrue(FileSystem.stat(link).isSymlink());
                assertArrayEquals(name("../canary"), FileSystem.readlink(link));
            }
        }
    }

    @Test
    void metadataCallsOnASymlinkDescriptorNeverReachItsTarget() throws Exception {
        Files.createSymbolicLink(share.resolve("up"), Path.of("../canary"));
        FileStat before;
        try (Fd c = Fd.open(canary.toString(), OpenFlags.O_PATH | OpenFlags.O_CLOEXEC, 0)) {
            before = FileSystem.stat(c);
        }
        try (Fd root = root(); Fd link = FileSystem.openat2(root, name("up"), PATH, 0, CONFINED)) {
            FileSystem.chown(link, 1234, 1234);
            FileSystem.utimens(link, 5, 0, 5, 0);
            FileSystem.link(link, root, name("hard"));
            assertThrows(ErrnoException.class, () -> FileSystem.truncate(link, 0));
            assertThrows(ErrnoException.class, () -> FileSystem.chmod(link, 0777));
            FileStat l = FileSystem.stat(link);
            assertEquals(1234, l.uid());
            assertEquals(5, l.mtimeSec());
            assertEquals(2, l.nlink(), "the hard link is to the symlink itself");
        }
        try (Fd c = Fd.open(canary.toString(), OpenFlags.O_PATH | OpenFlags.O_CLOEXEC, 0)) {
            FileStat after = FileSystem.stat(c);
            assertEquals(before, after);
        }
        assertEquals("outside", Files.readString(canary));
    }

    @Test
    void createsRenamesLinksAndRemovesByName() throws Exception {
        try (Fd root = root()) {
            FileSystem.mkdirat(root, name("d"), 0750);
            FileSystem.mknodat(root, name("fifo"), FileSystem.S_IFIFO | 0640, 0);
            FileSystem.symlinkat(name("target text"), root, name("sym"));
            Files.writeString(share.resolve("a"), "A");
            Files.writeString(share.resolve("b"), "B");
            assertTrue(FileSystem.statAt(root, name("d")).isDirectory());
            assertEquals(FileSystem.S_IFIFO, FileSystem.statAt(root, name("fifo")).type());
            assertTrue(FileSystem.statAt(root, name("sym")).isSymlink());

            assertEquals(Errno.EEXIST, errno(() ->
                    FileSystem.renameat2(root, name("a"), root, name("b"), FileSystem.RENAME_NOREPLACE)));
            FileSystem.renameat2(root, name("a"), root, name("b"), FileSystem.RENAME_EXCHANGE);
            assertEquals("B", Files.readString(share.resolve("a")));
            assertEquals("A", Files.readString(share.resolve("b")));
            try (Fd d = FileSystem.openat2(root, name("d"), PATH, 0, CONFINED)) {
                FileSystem.renameat2(root, name("b"), d, name("moved"), 0);
                try (Fd moved = FileSystem.openat2(d, name("moved"), PATH, 0, CONFINED)) {
                    FileSystem.link(moved, root, name("again"));
                    assertEquals(2, FileSystem.stat(moved).nlink());
                }
            }
            assertEquals("A", Files.readString(share.resolve("again")));
            FileSystem.unlinkat(root, name("again"), 0);
            assertEquals(Errno.ENOTEMPTY, errno(() -> FileSystem.unlinkat(root, name("d"), FileSystem.AT_REMOVEDIR)));
            assertEquals(Errno.EISDIR, errno(() -> FileSystem.unlinkat(root, name("d"), 0)));
            assertFalse(Files.exists(share.resolve("again")));
        }
    }

    @Test
    void changesModeOwnerTimesAndLengthThroughAnOPathDescriptor() throws Exception {
        Files.writeString(share.resolve("f"), "0123456789");
        try (Fd root = root(); Fd f = FileSystem.openat2(root, name("f"), PATH, 0, CONFINED)) {
            FileSystem.chmod(f, 04711);
            FileSystem.chown(f, 100, 200);
            FileSystem.truncate(f, 4);
            FileSystem.utimens(f, 11, 22, 33, 44);
            FileStat st = FileSystem.stat(f);
            assertEquals(FileSystem.S_IFREG | 0711, st.mode(), "chown cleared set-user-ID");
            assertEquals(100, st.uid());
            assertEquals(200, st.gid());
            assertEquals(11, st.atimeSec());
            assertEquals(22, st.atimeNsec());
            assertEquals(33, st.mtimeSec());
            assertEquals(44, st.mtimeNsec());
            assertEquals(4, st.size());
            FileSystem.utimens(f, 0, FileSystem.UTIME_OMIT, 0, FileSystem.UTIME_NOW);
            FileStat now = FileSystem.stat(f);
            assertEquals(11, now.atimeSec());
            assertTrue(now.mtimeSec() > 1_600_000_000L);
        }
    }

    @Test
    void reopenGivesAReadableDescriptorOfTheSameFile() throws Exception {
        Files.writeString(share.resolve("f"), "data");
        try (Fd root = root(); Fd f = FileSystem.openat2(root, name("f"), PATH, 0, CONFINED)) {
            Files.move(share.resolve("f"), share.resolve("g"));
            Files.writeString(share.resolve("f"), "impostor");
            try (Fd r = FileSystem.reopen(f, OpenFlags.O_RDONLY | OpenFlags.O_NOFOLLOW)) {
                byte[] b = new byte[16];
                int n = r.read(b, 0, b.length);
                assertEquals("data", new String(b, 0, n));
                assertTrue(r.isCloexec());
            }
        }
    }

    @Test
    void statfsAndDeviceNumbers() {
        try (Fd root = root()) {
            FsStats s = FileSystem.statfs(root);
            assertTrue(s.bsize() > 0);
            assertTrue(s.namelen() >= 255);
        }
        assertEquals(FileSystem.PROC_SUPER_MAGIC, FileSystem.statfs(FileSystem.procSelfFd()).type());
        long dev = FileStat.makedev(259, 300000);
        assertEquals(259, FileStat.major(dev));
        assertEquals(300000, FileStat.minor(dev));
    }

    @Test
    void singleComponentNames() {
        assertTrue(FileSystem.isSingleComponent(name("a")));
        assertTrue(FileSystem.isSingleComponent(name("...")));
        assertFalse(FileSystem.isSingleComponent(name("")));
        assertFalse(FileSystem.isSingleComponent(name(".")));
        assertFalse(FileSystem.isSingleComponent(name("..")));
        assertFalse(FileSystem.isSingleComponent(name("a/b")));
        assertFalse(FileSystem.isSingleComponent(new byte[] {'a', 0}));
        try (Fd root = root()) {
            assertThrows(IllegalArgumentException.class, () -> FileSystem.mkdirat(root, new byte[] {'x', 0, 'y'}, 0700));
        }
    }
}
