package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseDriver.ok;
import static dev.kava.virtio.fs.FuseKernel.*;
import static dev.kava.virtio.fs.FuseWire.bytes;
import static dev.kava.virtio.fs.FuseWire.cstr;
import static dev.kava.virtio.fs.FuseWire.struct;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kava.linux.Errno;
import dev.kava.linux.Fd;
import dev.kava.linux.FileSystem;
import dev.kava.linux.OpenFlags;
import dev.kava.linux.LinuxException;
import dev.kava.linux.Mounts;
import dev.kava.virtio.fs.FuseWire.Entry;
import dev.kava.virtio.fs.FuseWire.Reply;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A hostile guest tries to reach the canary file and directory outside the share through every
 * request; after each test, nothing outside the share was read, written, chmod'ed, chowned,
 * renamed, linked or even stat'ed (its atime, ctime and link count say so).
 */
class FuseEscapeTest extends FuseTestSupport {
    private static final List<String> TARGETS = List.of(
            "/", "..", "../canary", "../../../../../../../../canary", "../outside", "/proc/self/root",
            "/proc/self/cwd", "/proc/self/fd/0", "/etc/passwd");
    private Path outside;
    private Map<String, Object> canaryBefore;
    private long canaryIno;

    @BeforeEach
    void plantCanaries() throws Exception {
        outside = Files.createDirectory(tmp.resolve("outside"));
        Files.writeString(outside.resolve("secret"), "secret");
        Files.writeString(Files.createDirectory(tmp.resolve("volume")).resolve("inside"), "volume data");
        // atime older than mtime: under relatime any read of the canary would move it
        Files.setLastModifiedTime(canary, FileTime.fromMillis(2_000_000_000_000L));
        Files.setAttribute(canary, "lastAccessTime", FileTime.fromMillis(1_000_000_000_000L));
        canaryBefore = canaryState();
        canaryIno = (Long) canaryBefore.get("ino");
        for (int i = 0; i < TARGETS.size(); i++) {
            Files.createSymbolicLink(share.resolve("planted" + i), Path.of(TARGETS.get(i)));
        }
    }

    private Map<String, Object> canaryState() throws Exception {
        Map<String, Object> m = new TreeMap<>(Files.readAttributes(canary,
                "unix:ino,mode,uid,gid,nlink,size,lastModifiedTime,lastAccessTime,ctime", LinkOption.NOFOLLOW_LINKS));
        m.put("content", readWithoutAtime(canary));
        m.put("xattrs", Files.getFileAttributeView(canary, UserDefinedFileAttributeView.class).list());
        m.put("outside", listing(outside));
        m.put("tmp", listing(tmp));
        return m;
    }

    /** The file's text, read with O_NOATIME so that this check itself leaves no trace. */
    private static String readWithoutAtime(Path p) {
        try (Fd fd = Fd.open(p.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC | FileSystem.O_NOATIME, 0)) {
            byte[] b = new byte[4096];
            int n = fd.read(b, 0, b.length);
            return new String(b, 0, Math.max(n, 0), StandardCharsets.UTF_8);
        }
    }

    private static List<String> listing(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @AfterEach
    void canaryIsUntouched() throws Exception {
        assertEquals(canaryBefore, canaryState());
        assertEquals("secret", Files.readString(outside.resolve("secret")));
        try (Stream<Path> all = Files.walk(share)) { // so that the temp dir cleanup meets no symlinks to outside
            for (Path p : all.filter(Files::isSymbolicLink).toList()) {
                Files.delete(p);
            }
        }
    }

    private void assertNotCanary(Reply r) {
        String text = new String(r.payloadBytes(), StandardCharsets.ISO_8859_1);
        assertFalse(text.contains("canary: outside"), "canary content leaked");
        assertFalse(text.contains("secret") && !text.contains("planted"), "outside content leaked");
    }

    @Test
    void dotDotSlashAndEmptyNamesAreRefused() {
        for (String name : List.of("..", ".", "", "../canary", "/etc", "a/b", "../../outside/secret")) {
            assertEquals(-Errno.EINVAL, fuse.lookupReply(ROOT, name).error(), "LOOKUP " + name);
            assertEquals(-Errno.EINVAL, fuse.mkdirReply(ROOT, name, 0755).error(), "MKDIR " + name);
            assertEquals(-Errno.EINVAL, fuse.createReply(ROOT, name, 2, 0644).error(), "CREATE " + name);
            assertEquals(-Errno.EINVAL, fuse.symlinkReply(ROOT, name, "x").error(), "SYMLINK " + name);
            assertEquals(-Errno.EINVAL, fuse.call(FUSE_UNLINK, ROOT, 16, cstr(name)).error(), "UNLINK " + name);
            assertEquals(-Errno.EINVAL, fuse.call(FUSE_RMDIR, ROOT, 16, cstr(name)).error(), "RMDIR " + name);
        }
        assertEquals(-Errno.ENAMETOOLONG, fuse.lookupReply(ROOT, "x".repeat(256)).error());
        assertEquals(-Errno.ENOENT, fuse.lookupReply(ROOT, "x".repeat(255)).error(), "255 bytes is a legal name");
    }

    @Test
    void symlinksAreReturnedAsTextButNeverFollowed() {
        for (int i = 0; i < TARGETS.size(); i++) {
            String name = "planted" + i;
            Entry link = fuse.lookup(ROOT, name);
            assertEquals(0120000, link.attr().type(), name + " is seen as a symlink");
            assertNotEquals(canaryIno, link.attr().ino());
            Reply target = ok(fuse.call(FUSE_READLINK, link.nodeid(), 4096 + 16));
            assertArrayEquals(bytes(TARGETS.get(i)), target.payloadBytes());
            long n = link.nodeid();
            assertEquals(-Errno.ELOOP, fuse.openReply(n, 0).error(), "OPEN " + name);
            assertEquals(-Errno.ELOOP, fuse.openReply(n, 2 | 01000).error(), "OPEN O_TRUNC " + name);
            assertEquals(-Errno.ENOTDIR, fuse.call(FUSE_OPENDIR, n, 32, struct(8, b -> { })).error());
            for (String child : List.of("canary", "secret", "etc", "passwd", "tmp")) {
                Reply r = fuse.lookupReply(n, child);
                assertEquals(-Errno.ENOTDIR, r.error(), "LOOKUP " + name + "/" + child);
                assertNotCanary(r);
            }
            assertEquals(-Errno.ENOTDIR, fuse.createReply(n, "canary", 2 | 01000, 0666).error());
            assertEquals(-Errno.ENOTDIR, fuse.mkdirReply(n, "x", 0777).error());
            assertEquals(-Errno.ENOTDIR, fuse.call(FUSE_UNLINK, n, 16, cstr("canary")).error());
            assertEquals(-Errno.ENOTDIR, fuse.call(FUSE_RENAME, n, 16, struct(8, b -> b.putLong(ROOT)),
                    cstr("canary"), cstr("stolen")).error());
            assertEquals(-Errno.ENOTDIR, fuse.call(FUSE_RENAME, ROOT, 16, struct(8, b -> b.putLong(n)),
                    cstr("planted0"), cstr("canary")).error());
            // metadata changes land on the symlink itself, or are refused
            assertEquals(-Errno.EOPNOTSUPP, fuse.setattrReply(n, FATTR_MODE, b -> b.putInt(68, 0777)).error());
            assertEquals(-Errno.EINVAL, fuse.setattrReply(n, FATTR_SIZE, b -> b.putLong(16, 0)).error());
            assertEquals(4321, fuse.setattr(n, FATTR_UID | FATTR_GID, b -> b.putInt(76, 4321).putInt(80, 4321)).uid());
            assertEquals(12345, fuse.setattr(n, FATTR_MTIME, b -> b.putLong(40, 12345)).mtime());
            // a hard link to the symlink is a link to the symlink, not to its target
            Entry hard = Entry.at(ok(fuse.call(FUSE_LINK, ROOT, 4096, struct(8, b -> b.putLong(n)),
                    cstr("hard" + i))).payload(), 0);
            assertEquals(0120000, hard.attr().type());
            assertEquals(n, hard.nodeid());
            assertEquals(2, hard.attr().nlink());
        }
    }

    @Test
    void guestMadeSymlinksBehaveTheSame() {
        for (int i = 0; i < TARGETS.size(); i++) {
            Entry link = fuse.symlink(ROOT, "guest" + i, TARGETS.get(i));
            assertEquals(-Errno.ELOOP, fuse.openReply(link.nodeid(), 0).error());
            assertEquals(-Errno.ENOTDIR, fuse.lookupReply(link.nodeid(), "canary").error());
            assertEquals(-Errno.ENOTDIR, fuse.mknodReply(link.nodeid(), "canary", 0100644, 0).error());
            assertEquals(-Errno.ENOTDIR, fuse.symlinkReply(link.nodeid(), "canary", "x").error());
        }
    }

    @Test
    void xattrsOfASymlinkNeverReachItsTarget() throws Exception {
        Entry link = fuse.lookup(ROOT, "planted2"); // ../canary
        Reply set = fuse.call(FUSE_SETXATTR, link.nodeid(), 16, struct(8, b -> b.putInt(1).putInt(0)),
                cstr("user.evil"), new byte[] {1});
        assertEquals(-Errno.EPERM, set.error(), "user xattrs are not allowed on the symlink itself");
        assertEquals(-Errno.ENODATA, fuse.call(FUSE_GETXATTR, link.nodeid(), 4096, struct(8, b -> b.putInt(100)),
                cstr("user.evil")).error());
        assertEquals(-Errno.EPERM, fuse.call(FUSE_REMOVEXATTR, link.nodeid(), 16, cstr("user.evil")).error());
    }

    @Test
    void renamesAndLinksStayInsideTheShare() throws Exception {
        Entry d = fuse.mkdir(ROOT, "d", 0755);
        Files.writeString(share.resolve("d/file"), "mine");
        for (String bad : List.of("..", "../canary", "../outside/x", "/tmp/x", ".")) {
            assertEquals(-Errno.EINVAL, fuse.call(FUSE_RENAME, d.nodeid(), 16, struct(8, b -> b.putLong(ROOT)),
                    cstr("file"), cstr(bad)).error(), "RENAME to " + bad);
            assertEquals(-Errno.EINVAL, fuse.call(FUSE_RENAME2, ROOT, 16, struct(16, b -> b.putLong(ROOT).putInt(2)),
                    cstr(bad), cstr("d")).error(), "EXCHANGE with " + bad);
            assertEquals(-Errno.EINVAL, fuse.call(FUSE_LINK, ROOT, 4096, struct(8, b -> b.putLong(d.nodeid())),
                    cstr(bad)).error(), "LINK as " + bad);
        }
        assertEquals(-Errno.EBADF, fuse.call(FUSE_LINK, ROOT, 4096, struct(8, b -> b.putLong(987654)),
                cstr("ghost")).error(), "LINK from a nodeid never handed out");
        assertEquals(-Errno.EBADF, fuse.call(FUSE_RENAME, ROOT, 16, struct(8, b -> b.putLong(987654)),
                cstr("d"), cstr("x")).error(), "RENAME into a nodeid never handed out");
        assertEquals(-Errno.EPERM, fuse.call(FUSE_LINK, ROOT, 4096, struct(8, b -> b.putLong(ROOT)),
                cstr("rootlink")).error());
        assertEquals("mine", Files.readString(share.resolve("d/file")));
    }

    @Test
    void deviceNodesCannotBeMade() throws Exception {
        int mem = (1 << 8) | 1; // char 1:1, /dev/mem
        assertEquals(-Errno.EPERM, fuse.mknodReply(ROOT, "mem", 020600, mem).error());
        assertEquals(-Errno.EPERM, fuse.mknodReply(ROOT, "sda", 060600, 8 << 8).error());
        assertEquals(-Errno.EINVAL, fuse.mknodReply(ROOT, "dir", 040755, 0).error());
        assertFalse(Files.exists(share.resolve("mem"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(share.resolve("sda"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void submountsUnderTheShareAreCrossedButNotClimbedOutOf() throws Exception {
        Path volume = tmp.resolve("volume");
        Path mountpoint = Files.createDirectory(share.resolve("vol"));
        try {
            Mounts.mount(volume.toString(), mountpoint.toString(), null, Mounts.MS_BIND, null);
        } catch (LinuxException e) {
            System.out.println("SKIP submount test: cannot bind-mount here: " + e.getMessage());
            assumeTrue(false, "bind mounts not permitted: " + e.getMessage());
        }
        try {
            Entry vol = fuse.lookup(ROOT, "vol");
            Entry inside = fuse.lookup(vol.nodeid(), "inside");
            long fh = fuse.open(inside.nodeid(), 0);
            assertEquals("volume data", new String(fuse.read(fh, 0, 100), StandardCharsets.UTF_8));
            ok(fuse.releaseReply(fh));
            assertEquals(-Errno.EINVAL, fuse.lookupReply(vol.nodeid(), "..").error());
            assertEquals(-Errno.EXDEV, fuse.call(FUSE_RENAME, vol.nodeid(), 16, struct(8, b -> b.putLong(ROOT)),
                    cstr("inside"), cstr("moved")).error(), "renames do not cross mounts");
            fuse.forget(inside.nodeid(), 1);
            fuse.forget(vol.nodeid(), 1);
        } finally {
            Mounts.umount(mountpoint.toString(), Mounts.MNT_DETACH);
        }
    }
}
