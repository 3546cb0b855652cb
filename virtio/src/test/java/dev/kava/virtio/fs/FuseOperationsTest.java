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
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Errno;
import dev.kava.virtio.fs.FuseWire.Attr;
import dev.kava.virtio.fs.FuseWire.Entry;
import dev.kava.virtio.fs.FuseWire.Reply;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The normal behaviour of every opcode the server implements, checked against the host files. */
class FuseOperationsTest extends FuseTestSupport {
    private static final int O_WRONLY = 1;
    private static final int O_RDWR = 2;
    private static final int O_EXCL = 0200;
    private static final int O_TRUNC = 01000;

    private static Map<String, Object> hostStat(Path p) throws Exception {
        return Files.readAttributes(p, "unix:ino,size,mode,uid,gid,nlink", LinkOption.NOFOLLOW_LINKS);
    }

    @Test
    void initNegotiatesOnlyWhatBothSidesOffer() {
        Reply r = ok(fuse.init(38, -1));
        ByteBuffer p = r.payload();
        assertEquals(64, r.payloadSize());
        assertEquals(7, p.getInt(0));
        assertEquals(36, p.getInt(4), "a newer guest is answered with our minor");
        assertEquals(128 * 1024, p.getInt(8), "the guest's max_readahead is kept");
        int expected = 1 | 8 | 32 | 4096 | 8192 | 16384 | 32768 | 262144 | 4194304 | (1 << 28);
        assertEquals(expected, p.getInt(12));
        assertEquals(1 << 20, p.getInt(20), "max_write");
        assertEquals(1, p.getInt(24), "time_gran");
        assertEquals(256, p.getShort(28), "max_pages");
        ByteBuffer q = ok(fuse.init(31, FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_WRITEBACK_CACHE)).payload();
        assertEquals(31, q.getInt(4));
        assertEquals(FUSE_ASYNC_READ, q.getInt(12), "never more than the guest offered, never locks or writeback");
    }

    @Test
    void lookupAndGetattrReportTheHostFile() throws Exception {
        Path f = Files.writeString(share.resolve("hello.txt"), "hello");
        Entry e = fuse.lookup(ROOT, "hello.txt");
        Map<String, Object> st = hostStat(f);
        assertTrue(e.nodeid() > ROOT);
        assertEquals(st.get("ino"), e.attr().ino());
        assertEquals(5, e.attr().size());
        assertEquals(st.get("mode"), e.attr().mode());
        assertEquals(1, e.attr().nlink());
        assertEquals(1, e.entryValid(), "cache=auto: one second");
        assertEquals(e.attr(), fuse.getattr(e.nodeid()));
        assertEquals(e.nodeid(), fuse.lookup(ROOT, "hello.txt").nodeid(), "one inode, one nodeid");
        assertEquals(-Errno.ENOENT, fuse.lookupReply(ROOT, "nope").error());
        Attr root = fuse.getattr(ROOT);
        assertEquals(040000, root.type());
    }

    @Test
    void createdNodesBelongToTheCallerWithExactlyTheModeAsked() throws Exception {
        fuse.uid = 1234;
        fuse.gid = 5678;
        Entry d = fuse.mkdir(ROOT, "dir", 0777);
        assertEquals(040777, d.attr().mode(), "the host umask does not apply");
        assertEquals(1234, d.attr().uid());
        assertEquals(5678, d.attr().gid());
        Path dir = share.resolve("dir");
        assertEquals(1234, hostStat(dir).get("uid"));
        assertEquals(PosixFilePermissions.fromString("rwxrwxrwx"), Files.getPosixFilePermissions(dir));

        Entry fifo = Entry.at(ok(fuse.mknodReply(d.nodeid(), "fifo", 010640, 0)).payload(), 0);
        assertEquals(010640, fifo.attr().mode());
        Entry reg = Entry.at(ok(fuse.mknodReply(d.nodeid(), "reg", 04755, 0)).payload(), 0);
        assertEquals(0104755, reg.attr().mode(), "set-user-ID survives the chown to the caller");
        Entry sock = Entry.at(ok(fuse.mknodReply(d.nodeid(), "sock", 0140600, 0)).payload(), 0);
        assertEquals(0140600, sock.attr().mode());
        Entry whiteout = Entry.at(ok(fuse.mknodReply(d.nodeid(), "wh", 020000, 0)).payload(), 0);
        assertEquals(020000, whiteout.attr().type());
        assertEquals(0, whiteout.attr().rdev());

        Entry link = fuse.symlink(d.nodeid(), "link", "../somewhere/else");
        assertEquals(0120000, link.attr().type());
        assertEquals(1234, link.attr().uid());
        assertArrayEquals(bytes("../somewhere/else"), ok(fuse.call(FUSE_READLINK, link.nodeid(), 4096 + 16)).payloadBytes());
        assertEquals("../somewhere/else", Files.readSymbolicLink(dir.resolve("link")).toString());
        assertEquals(-Errno.EINVAL, fuse.call(FUSE_READLINK, d.nodeid(), 4096).error());
        assertEquals(-Errno.EEXIST, fuse.mkdirReply(ROOT, "dir", 0700).error());
        assertEquals(-Errno.ENOENT, fuse.symlinkReply(ROOT, "empty", "").error());
    }

    @Test
    void umaskFromTheRequestIsApplied() {
        Entry d = Entry.at(ok(fuse.call(FUSE_MKDIR, ROOT, 4096, struct(8, b -> b.putInt(0777).putInt(027)), cstr("d"))).payload(), 0);
        assertEquals(040750, d.attr().mode());
    }

    @Test
    void setGroupIdDirectoriesPassTheirGroupOn() throws Exception {
        Entry parent = fuse.mkdir(ROOT, "shared", 02775);
        fuse.setattr(parent.nodeid(), FATTR_GID, b -> b.putInt(80, 4444));
        fuse.uid = 1000;
        fuse.gid = 1000;
        Entry child = fuse.mkdir(parent.nodeid(), "child", 0755);
        assertEquals(4444, child.attr().gid());
        assertEquals(1000, child.attr().uid());
        assertEquals(042755, child.attr().mode(), "directories inherit set-group-ID");
        FuseDriver.Created f = fuse.create(parent.nodeid(), "file", O_RDWR, 0644);
        assertEquals(4444, f.entry().attr().gid());
    }

    @Test
    void createWriteReadReleaseRoundTrip() throws Exception {
        fuse.uid = 42;
        FuseDriver.Created c = fuse.create(ROOT, "data.bin", O_RDWR | O_EXCL, 0600);
        assertEquals(0100600, c.entry().attr().mode());
        assertEquals(42, c.entry().attr().uid());
        assertEquals(FOPEN_NOFLUSH, c.openFlags(), "cache=auto: no FLUSH on close, page cache kept per the attributes");
        byte[] data = new byte[300_000];
        new java.util.Random(1).nextBytes(data);
        assertEquals(data.length, fuse.write(c.fh(), 0, data));
        assertArrayEquals(data, Files.readAllBytes(share.resolve("data.bin")));
        assertArrayEquals(java.util.Arrays.copyOfRange(data, 1000, 5000), fuse.read(c.fh(), 1000, 4000));
        assertEquals(100, fuse.read(c.fh(), data.length - 100, 4000).length, "short read at the end");
        assertEquals(0, fuse.read(c.fh(), data.length + 10, 10).length);
        ok(fuse.call(FUSE_FLUSH, c.entry().nodeid(), 16, struct(24, b -> b.putLong(c.fh()))));
        ok(fuse.call(FUSE_FSYNC, c.entry().nodeid(), 16, struct(16, b -> b.putLong(c.fh()).putInt(1))));
        ok(fuse.call(FUSE_FSYNC, c.entry().nodeid(), 16, struct(16, b -> b.putLong(c.fh()).putInt(0))));
        ok(fuse.releaseReply(c.fh()));
        assertEquals(-Errno.EBADF, fuse.releaseReply(c.fh()).error());
        assertEquals(0, fuse.server.openHandleCount());

        assertEquals(-Errno.EEXIST, fuse.createReply(ROOT, "data.bin", O_RDWR | O_EXCL, 0600).error());
        FuseDriver.Created again = fuse.create(ROOT, "data.bin", O_WRONLY | O_TRUNC, 0600);
        assertEquals(c.entry().nodeid(), again.entry().nodeid());
        assertEquals(0, Files.size(share.resolve("data.bin")), "O_TRUNC on an existing file");
        ok(fuse.releaseReply(again.fh()));

        long fh = fuse.open(c.entry().nodeid(), O_RDWR | O_TRUNC);
        assertEquals(3, fuse.write(fh, 0, bytes("abc")));
        assertArrayEquals(bytes("abc"), fuse.read(fh, 0, 100));
        ok(fuse.releaseReply(fh));
        assertEquals("abc", Files.readString(share.resolve("data.bin")));
    }

    @Test
    void setattrChangesModeOwnerSizeAndTimes() throws Exception {
        Path f = Files.writeString(share.resolve("f"), "0123456789");
        Entry e = fuse.lookup(ROOT, "f");
        Attr a = fuse.setattr(e.nodeid(), FATTR_MODE, b -> b.putInt(68, 0640));
        assertEquals(0100640, a.mode());
        a = fuse.setattr(e.nodeid(), FATTR_UID | FATTR_GID, b -> b.putInt(76, 77).putInt(80, 88));
        assertEquals(77, a.uid());
        assertEquals(88, a.gid());
        a = fuse.setattr(e.nodeid(), FATTR_SIZE, b -> b.putLong(16, 4));
        assertEquals(4, a.size());
        assertEquals("0123", Files.readString(f));
        a = fuse.setattr(e.nodeid(), FATTR_ATIME | FATTR_MTIME,
                b -> b.putLong(32, 1_000_000).putLong(40, 2_000_000).putInt(56, 5).putInt(60, 6));
        assertEquals(1_000_000, a.atime());
        assertEquals(5, a.atimensec());
        assertEquals(2_000_000, a.mtime());
        assertEquals(6, a.mtimensec());
        a = fuse.setattr(e.nodeid(), FATTR_MTIME | FATTR_MTIME_NOW, b -> { });
        assertEquals(1_000_000, a.atime(), "atime omitted");
        assertTrue(a.mtime() > 1_600_000_000L, "mtime now");
        assertEquals(-Errno.EINVAL, fuse.setattrReply(e.nodeid(), FATTR_ATIME, b -> b.putInt(56, 1_000_000_000)).error());

        long fh = fuse.open(e.nodeid(), O_RDWR);
        a = fuse.setattr(e.nodeid(), FATTR_SIZE | FATTR_FH, b -> b.putLong(8, fh).putLong(16, 100));
        assertEquals(100, a.size());
        assertEquals(-Errno.EBADF, fuse.setattrReply(e.nodeid(), FATTR_SIZE | FATTR_FH, b -> b.putLong(8, 999).putLong(16, 1)).error());
        ok(fuse.releaseReply(fh));
        assertEquals(-Errno.EISDIR, fuse.setattrReply(ROOT, FATTR_SIZE, b -> { }).error());
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.GROUP_READ),
                Files.getPosixFilePermissions(f));
    }

    @Test
    void killSuidGidFlagsClearSetIdBitsAsAnUnprivilegedWriterWould() throws Exception {
        FuseDriver.Created c = fuse.create(ROOT, "suid", O_RDWR, 06755);
        long node = c.entry().nodeid();
        assertEquals(0106755, c.entry().attr().mode());
        Reply plain = fuse.call(FUSE_WRITE, 0, 64, struct(40, b -> b.putLong(c.fh()).putLong(0).putInt(1)), bytes("a"));
        ok(plain);
        assertEquals(0106755, fuse.getattr(node).mode(), "a privileged writer keeps them");
        ok(fuse.call(FUSE_WRITE, 0, 64, struct(40, b -> b.putLong(c.fh()).putLong(0).putInt(1).putInt(FUSE_WRITE_KILL_SUIDGID)),
                bytes("b")));
        assertEquals(0100755, fuse.getattr(node).mode(), "set-user-ID and group-executable set-group-ID go");

        fuse.setattr(node, FATTR_MODE, b -> b.putInt(68, 02745)); // set-group-ID without group exec: a lock mark
        ok(fuse.call(FUSE_WRITE, 0, 64, struct(40, b -> b.putLong(c.fh()).putLong(0).putInt(1).putInt(FUSE_WRITE_KILL_SUIDGID)),
                bytes("c")));
        assertEquals(0102745, fuse.getattr(node).mode(), "mandatory-lock marks stay");

        fuse.setattr(node, FATTR_MODE, b -> b.putInt(68, 04755));
        assertEquals(0104755, fuse.setattr(node, FATTR_SIZE, b -> b.putLong(16, 0)).mode());
        assertEquals(0100755, fuse.setattr(node, FATTR_SIZE | FATTR_KILL_SUIDGID, b -> b.putLong(16, 0)).mode());

        fuse.setattr(node, FATTR_MODE, b -> b.putInt(68, 04755));
        ok(fuse.releaseReply(ok(fuse.call(FUSE_OPEN, node, 32, struct(8, b -> b.putInt(O_RDWR | O_TRUNC).putInt(0))))
                .payload().getLong(0)));
        assertEquals(0104755, fuse.getattr(node).mode());
        ok(fuse.releaseReply(ok(fuse.call(FUSE_OPEN, node, 32,
                struct(8, b -> b.putInt(O_RDWR | O_TRUNC).putInt(FUSE_OPEN_KILL_SUIDGID)))).payload().getLong(0)));
        assertEquals(0100755, fuse.getattr(node).mode(), "O_TRUNC open with FUSE_OPEN_KILL_SUIDGID");
        ok(fuse.releaseReply(c.fh()));
    }

    @Test
    void unlinkRmdirRenameRename2AndLink() throws Exception {
        Files.writeString(share.resolve("a"), "A");
        Files.writeString(share.resolve("b"), "B");
        Entry d = fuse.mkdir(ROOT, "d", 0755);
        Files.writeString(share.resolve("d/inner"), "x");

        assertEquals(-Errno.ENOTEMPTY, fuse.call(FUSE_RMDIR, ROOT, 16, cstr("d")).error());
        ok(fuse.call(FUSE_UNLINK, d.nodeid(), 16, cstr("inner")));
        assertEquals(-Errno.ENOENT, fuse.call(FUSE_UNLINK, d.nodeid(), 16, cstr("inner")).error());

        ok(fuse.call(FUSE_RENAME, ROOT, 16, struct(8, b -> b.putLong(d.nodeid())), cstr("a"), cstr("moved")));
        assertEquals("A", Files.readString(share.resolve("d/moved")));
        Files.writeString(share.resolve("a"), "A2");
        assertEquals(-Errno.EEXIST, fuse.call(FUSE_RENAME2, ROOT, 16,
                struct(16, b -> b.putLong(ROOT).putInt(1)), cstr("a"), cstr("b")).error());
        ok(fuse.call(FUSE_RENAME2, ROOT, 16, struct(16, b -> b.putLong(ROOT).putInt(2)), cstr("a"), cstr("b")));
        assertEquals("B", Files.readString(share.resolve("a")));
        assertEquals("A2", Files.readString(share.resolve("b")));
        assertEquals(-Errno.EINVAL, fuse.call(FUSE_RENAME2, ROOT, 16,
                struct(16, b -> b.putLong(ROOT).putInt(0x100)), cstr("a"), cstr("b")).error());

        Entry a = fuse.lookup(ROOT, "a");
        Entry l = Entry.at(ok(fuse.call(FUSE_LINK, d.nodeid(), 4096, struct(8, b -> b.putLong(a.nodeid())), cstr("hard"))).payload(), 0);
        assertEquals(a.nodeid(), l.nodeid());
        assertEquals(2, l.attr().nlink());
        assertEquals(-Errno.EPERM, fuse.call(FUSE_LINK, ROOT, 4096, struct(8, b -> b.putLong(d.nodeid())), cstr("dirlink")).error());

        ok(fuse.call(FUSE_UNLINK, d.nodeid(), 16, cstr("hard")));
        ok(fuse.call(FUSE_UNLINK, d.nodeid(), 16, cstr("moved")));
        ok(fuse.call(FUSE_RMDIR, ROOT, 16, cstr("d")));
        assertFalse(Files.exists(share.resolve("d")));
    }

    @Test
    void statfsAndAccess() throws Exception {
        ByteBuffer s = ok(fuse.call(FUSE_STATFS, ROOT, 16 + 80)).payload();
        java.nio.file.FileStore store = Files.getFileStore(share);
        assertEquals(store.getTotalSpace(), s.getLong(0) * s.getInt(48), "blocks * frsize");
        assertEquals(255, s.getInt(44), "namelen");

        Path f = Files.writeString(share.resolve("private"), "x");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        long node = fuse.lookup(ROOT, "private").nodeid();
        fuse.uid = 1000;
        assertEquals(-Errno.EACCES, fuse.call(FUSE_ACCESS, node, 16, struct(8, b -> b.putInt(4))).error());
        ok(fuse.call(FUSE_ACCESS, node, 16, struct(8, b -> b.putInt(0))));
        fuse.uid = 0;
        ok(fuse.call(FUSE_ACCESS, node, 16, struct(8, b -> b.putInt(6))));
        assertEquals(-Errno.EACCES, fuse.call(FUSE_ACCESS, node, 16, struct(8, b -> b.putInt(1))).error());
    }

    @Test
    void fallocateAndSeekDataHoleInASparseFile() throws Exception {
        FuseDriver.Created c = fuse.create(ROOT, "sparse", O_RDWR, 0644);
        long mib = 1 << 20;
        fuse.setattr(c.entry().nodeid(), FATTR_SIZE, b -> b.putLong(16, 8 * mib));
        assertEquals(4096, fuse.write(c.fh(), 4 * mib, new byte[4096]));
        ok(fuse.call(FUSE_FALLOCATE, 0, 16, struct(32, b -> b.putLong(c.fh()).putLong(6 * mib).putLong(mib).putInt(0))));
        assertEquals(4 * mib, lseek(c.fh(), 0, 3));
        assertEquals(4 * mib + 4096, lseek(c.fh(), 4 * mib, 4));
        assertTrue(fuse.getattr(c.entry().nodeid()).blocks() >= (mib + 4096) / 512, "fallocate reserved the blocks");
        assertEquals(0, lseek(c.fh(), 0, 4));
        assertEquals(-Errno.ENXIO, seekReply(c.fh(), 9 * mib, 3).error());
        assertEquals(-Errno.EINVAL, seekReply(c.fh(), 0, 1).error(), "SEEK_CUR is the guest's business");
        ok(fuse.call(FUSE_FALLOCATE, 0, 16, struct(32, b -> b.putLong(c.fh()).putLong(4 * mib).putLong(4096).putInt(3))));
        Reply data = seekReply(c.fh(), 0, 3);
        assertTrue(data.error() == -Errno.ENXIO || data.payload().getLong(0) >= 6 * mib, "the punched hole is a hole");
        assertEquals(8 * mib, Files.size(share.resolve("sparse")));
    }

    private Reply seekReply(long fh, long offset, int whence) {
        return fuse.call(FUSE_LSEEK, 0, 24, struct(24, b -> b.putLong(fh).putLong(offset).putInt(whence)));
    }

    private long lseek(long fh, long offset, int whence) {
        return ok(seekReply(fh, offset, whence)).payload().getLong(0);
    }

    @Test
    void copyFileRangeBetweenTwoHandles() throws Exception {
        Files.writeString(share.resolve("src"), "0123456789");
        long src = fuse.open(fuse.lookup(ROOT, "src").nodeid(), 0);
        FuseDriver.Created dst = fuse.create(ROOT, "dst", O_WRONLY, 0644);
        Reply r = fuse.call(FUSE_COPY_FILE_RANGE, 0, 24, struct(56, b -> b.putLong(src).putLong(2)
                .putLong(dst.entry().nodeid()).putLong(dst.fh()).putLong(1).putLong(5).putLong(0)));
        assertEquals(5, ok(r).payload().getInt(0));
        assertArrayEquals(new byte[] {0, '2', '3', '4', '5', '6'}, Files.readAllBytes(share.resolve("dst")));
        assertEquals(-Errno.EINVAL, fuse.call(FUSE_COPY_FILE_RANGE, 0, 24, struct(56, b -> b.putLong(src).putLong(0)
                .putLong(dst.entry().nodeid()).putLong(dst.fh()).putLong(0).putLong(5).putLong(1))).error());
    }

    @Test
    void forgetDropsTheInodeAndItsDescriptor() throws Exception {
        Files.writeString(share.resolve("f"), "");
        long before = fdCount();
        Entry e = fuse.lookup(ROOT, "f");
        fuse.lookup(ROOT, "f");
        assertEquals(2, fuse.server.inodeCount());
        assertEquals(before + 1, fdCount());
        fuse.forget(e.nodeid(), 1);
        assertEquals(e.attr(), fuse.getattr(e.nodeid()), "one lookup is left");
        fuse.forget(e.nodeid(), 1);
        assertEquals(-Errno.EBADF, fuse.getattrReply(e.nodeid()).error());
        assertEquals(1, fuse.server.inodeCount());
        assertEquals(before, fdCount());
        assertNotEquals(e.nodeid(), fuse.lookup(ROOT, "f").nodeid(), "nodeids are never reused");
        fuse.forget(ROOT, 1000);
        assertEquals(040000, fuse.getattr(ROOT).type(), "the root is pinned");
    }

    @Test
    void destroyDropsEverythingUntilTheNextInit() throws Exception {
        Files.writeString(share.resolve("f"), "x");
        Entry e = fuse.lookup(ROOT, "f");
        long fh = fuse.open(e.nodeid(), 0);
        ok(fuse.call(FUSE_DESTROY, 0, 16));
        assertEquals(0, fuse.server.openHandleCount());
        assertEquals(1, fuse.server.inodeCount());
        assertFalse(fuse.server.isInitialized());
        assertEquals(-Errno.EIO, fuse.lookupReply(ROOT, "f").error());
        fuse.init();
        assertEquals(-Errno.EBADF, fuse.readReply(fh, 0, 1, 64).error());
        assertEquals(-Errno.EBADF, fuse.getattrReply(e.nodeid()).error());
        fuse.lookup(ROOT, "f");
        fuse.init(); // a rebooted guest: INIT again starts afresh
        assertEquals(1, fuse.server.inodeCount());
        fuse.server.reset();
        assertEquals(-Errno.EIO, fuse.getattrReply(ROOT).error());
    }

    @Test
    void directoryHandlesOpenSyncAndRelease() {
        long fh = fuse.opendir(ROOT);
        ok(fuse.call(FUSE_FSYNCDIR, ROOT, 16, struct(16, b -> b.putLong(fh))));
        assertEquals(-Errno.EBADF, fuse.call(FUSE_FSYNC, ROOT, 16, struct(16, b -> b.putLong(fh))).error(),
                "a directory handle is not a file handle");
        ok(fuse.releasedirReply(fh));
        assertEquals(-Errno.EBADF, fuse.releasedirReply(fh).error());
    }

    @Test
    void withoutACacheReaddirplusIsNotOffered() throws Exception {
        try (FuseDriver d = new FuseDriver(FsConfig.of(share).withCache(CacheMode.NONE), 3)) {
            int flags = ok(d.init(36, -1)).payload().getInt(12);
            assertEquals(0, flags & (FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO), "its attributes would expire at once");
            assertEquals(FUSE_ASYNC_READ, flags & FUSE_ASYNC_READ);
        }
        try (FuseDriver d = new FuseDriver(FsConfig.of(share), 4)) {
            int flags = ok(d.init(36, -1)).payload().getInt(12);
            assertEquals(FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO, flags & (FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO));
        }
    }

    @Test
    void cacheModesSetTimeoutsAndOpenFlags() throws Exception {
        Files.writeString(share.resolve("f"), "x");
        for (CacheMode mode : CacheMode.values()) {
            try (FuseDriver d = new FuseDriver(FsConfig.of(share).withCache(mode), 7)) {
                d.init();
                Entry e = d.lookup(ROOT, "f");
                assertEquals(mode.timeoutSeconds(), e.entryValid());
                assertEquals(mode.timeoutSeconds(), e.attrValid());
                int fileFlags = ok(d.openReply(e.nodeid(), 0)).payload().getInt(8);
                int dirFlags = ok(d.call(FUSE_OPENDIR, ROOT, 32, struct(8, b -> { }))).payload().getInt(8);
                switch (mode) {
                    case NONE -> {
                        assertEquals(FOPEN_DIRECT_IO | FOPEN_NOFLUSH, fileFlags);
                        assertEquals(0, dirFlags);
                    }
                    case AUTO -> {
                        assertEquals(FOPEN_NOFLUSH, fileFlags);
                        assertEquals(0, dirFlags);
                    }
                    case ALWAYS -> {
                        assertEquals(FOPEN_KEEP_CACHE | FOPEN_NOFLUSH, fileFlags);
                        assertEquals(FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, dirFlags);
                    }
                }
            }
        }
    }

    @Test
    void specialFilesAreNeverOpened() throws Exception {
        fuse.mknodReply(ROOT, "fifo", 010644, 0);
        Entry fifo = fuse.lookup(ROOT, "fifo");
        assertEquals(-Errno.ENXIO, fuse.openReply(fifo.nodeid(), 0).error(), "a FIFO would block the server");
        Entry dir = fuse.mkdir(ROOT, "d", 0755);
        assertEquals(-Errno.EISDIR, fuse.openReply(dir.nodeid(), 0).error());
        Entry file = Entry.at(ok(fuse.mknodReply(ROOT, "plain", 0100644, 0)).payload(), 0);
        assertEquals(-Errno.ENOTDIR, fuse.call(FUSE_OPENDIR, file.nodeid(), 32, struct(8, b -> { })).error());
        assertEquals(-Errno.ENOTDIR, fuse.lookupReply(file.nodeid(), "x").error());
    }
}
