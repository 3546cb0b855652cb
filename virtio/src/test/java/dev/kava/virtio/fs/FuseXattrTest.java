package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseDriver.ok;
import static dev.kava.virtio.fs.FuseKernel.*;
import static dev.kava.virtio.fs.FuseWire.bytes;
import static dev.kava.virtio.fs.FuseWire.cstr;
import static dev.kava.virtio.fs.FuseWire.struct;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kava.linux.Errno;
import dev.kava.virtio.fs.FuseWire.Reply;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Extended attributes with getxattr(2)'s size semantics; skipped where the temp fs has no user xattrs. */
class FuseXattrTest extends FuseTestSupport {
    private long file;

    @BeforeEach
    void needUserXattrs() throws Exception {
        Path probe = Files.writeString(share.resolve("f"), "");
        try {
            Files.getFileAttributeView(probe, UserDefinedFileAttributeView.class).write("probe", ByteBuffer.wrap(new byte[1]));
            Files.getFileAttributeView(probe, UserDefinedFileAttributeView.class).delete("probe");
        } catch (Exception e) {
            System.out.println("SKIP xattr tests: " + share + " takes no user xattrs: " + e);
            assumeTrue(false, "no user xattrs on the temp file system");
        }
        file = fuse.lookup(ROOT, "f").nodeid();
    }

    private Reply set(long node, String name, byte[] value, int flags) {
        return fuse.call(FUSE_SETXATTR, node, 16, struct(8, b -> b.putInt(value.length).putInt(flags)), cstr(name), value);
    }

    private Reply get(long node, String name, int size) {
        return fuse.call(FUSE_GETXATTR, node, 16 + Math.max(size, 8), struct(8, b -> b.putInt(size)), cstr(name));
    }

    private Reply list(long node, int size) {
        return fuse.call(FUSE_LISTXATTR, node, 16 + Math.max(size, 8), struct(8, b -> b.putInt(size)));
    }

    @Test
    void setGetListRemoveWithSizeProbing() throws Exception {
        ok(set(file, "user.colour", bytes("blue"), 0));
        ok(set(file, "user.empty", new byte[0], 0));
        assertEquals(4, ok(get(file, "user.colour", 0)).payload().getInt(0), "size 0 asks for the length");
        assertArrayEquals(bytes("blue"), ok(get(file, "user.colour", 4)).payloadBytes());
        assertArrayEquals(bytes("blue"), ok(get(file, "user.colour", 1000)).payloadBytes());
        assertEquals(-Errno.ERANGE, get(file, "user.colour", 3).error());
        assertEquals(0, ok(get(file, "user.empty", 10)).payloadSize());
        assertEquals(-Errno.ENODATA, get(file, "user.none", 10).error());

        int len = ok(list(file, 0)).payload().getInt(0);
        assertEquals("user.colour\0user.empty\0".length(), len);
        String names = new String(ok(list(file, len)).payloadBytes());
        assertEquals(java.util.Set.of("user.colour", "user.empty"), java.util.Set.of(names.split("\0")));
        assertEquals(-Errno.ERANGE, list(file, len - 1).error());

        assertEquals(-Errno.EEXIST, set(file, "user.colour", bytes("red"), 1).error(), "XATTR_CREATE");
        assertEquals(-Errno.ENODATA, set(file, "user.none", bytes("red"), 2).error(), "XATTR_REPLACE");
        ok(set(file, "user.colour", bytes("red"), 2));
        assertArrayEquals(bytes("red"), ok(get(file, "user.colour", 10)).payloadBytes());
        ByteBuffer host = ByteBuffer.allocate(16);
        Files.getFileAttributeView(share.resolve("f"), UserDefinedFileAttributeView.class).read("colour", host);
        assertEquals(3, host.position(), "the host file has it");

        ok(fuse.call(FUSE_REMOVEXATTR, file, 16, cstr("user.colour")));
        assertEquals(-Errno.ENODATA, fuse.call(FUSE_REMOVEXATTR, file, 16, cstr("user.colour")).error());
        assertEquals("user.empty\0".length(), ok(list(file, 0)).payload().getInt(0));
    }

    @Test
    void limitsOnNamesAndValues() {
        assertEquals(-Errno.ERANGE, get(file, "user." + "n".repeat(251), 10).error(), "256-byte name");
        assertEquals(-Errno.ERANGE, get(file, "", 10).error(), "empty name");
        byte[] big = new byte[3000];
        big[2999] = 7;
        ok(set(file, "user.big", big, 0));
        Reply r = get(file, "user.big", 70_000);
        assertEquals(3000, ok(r).payloadSize(), "a size above XATTR_SIZE_MAX is fine for reading");
        assertEquals(7, r.payloadBytes()[2999]);
        int max = set(file, "user.max", new byte[65536], 0).error();
        assertTrue(max == 0 || max == -Errno.ENOSPC, "64 KiB reaches the host (ext4 without ea_inode says ENOSPC): " + max);
        assertEquals(-Errno.E2BIG, set(file, "user.max", new byte[65537], 0).error());
        assertEquals(-Errno.ERANGE, get(file, "user.big", 1).error());
    }

    @Test
    void directoriesAndSpecialFilesWithoutOpeningThem() {
        ok(set(ROOT, "user.dir", bytes("d"), 0));
        assertArrayEquals(bytes("d"), ok(get(ROOT, "user.dir", 10)).payloadBytes());
        ok(fuse.mknodReply(ROOT, "fifo", 010644, 0));
        long fifo = fuse.lookup(ROOT, "fifo").nodeid();
        assertEquals(-Errno.EPERM, set(fifo, "user.x", bytes("1"), 0).error(), "user.* is refused on FIFOs by the host");
        ok(set(fifo, "trusted.kava", bytes("1"), 0));
        assertArrayEquals(bytes("1"), ok(get(fifo, "trusted.kava", 10)).payloadBytes(), "and nothing blocked on the FIFO");
    }

    @Test
    void disabledXattrsAnswerEnosys() {
        try (FuseDriver off = new FuseDriver(FsConfig.of(share).withXattrs(false), 1)) {
            off.init();
            long f = off.lookup(ROOT, "f").nodeid();
            assertEquals(-Errno.ENOSYS, off.call(FUSE_GETXATTR, f, 64, struct(8, b -> { }), cstr("user.a")).error());
            assertEquals(-Errno.ENOSYS, off.call(FUSE_LISTXATTR, f, 64, struct(8, b -> { })).error());
            assertEquals(-Errno.ENOSYS, off.call(FUSE_SETXATTR, f, 64, struct(8, b -> { }), cstr("user.a")).error());
            assertEquals(-Errno.ENOSYS, off.call(FUSE_REMOVEXATTR, f, 64, cstr("user.a")).error());
        }
    }
}
