package dev.kava.virtio.fs;

import dev.kava.linux.Errno;
import dev.kava.linux.Xattrs;
import dev.kava.virtio.fs.Inodes.Inode;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;

/**
 * SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR on the object an inode's O_PATH descriptor holds,
 * through {@code /proc/self/fd/N} ({@link Xattrs}): never on a symlink's target, and without
 * opening the file (so device nodes and FIFOs are safe too).
 *
 * <p>Size semantics follow {@code getxattr(2)}: a request size of 0 asks for the length only
 * ({@code fuse_getxattr_out}); otherwise the value (or NUL-separated name list) comes back, or
 * ERANGE when it is longer than the size. Values are at most {@link Xattrs#XATTR_SIZE_MAX} bytes
 * (E2BIG above), names at most {@link Xattrs#XATTR_NAME_MAX} (ERANGE above, as Linux does); the
 * host buffer is bounded by those limits, never by what the guest claims. Every namespace the
 * host allows root is passed through (user., trusted., security., system.): the share is the
 * guest's, and it is the operator's job to keep it away from host processes that would trust such
 * attributes. With {@link FsConfig#xattrs()} off, all four answer ENOSYS.
 */
final class XattrOps {
    private final PassthroughFs fs;

    XattrOps(PassthroughFs fs) {
        this.fs = fs;
    }

    private void checkEnabled() {
        if (!fs.config.xattrs()) {
            throw new FuseError(Errno.ENOSYS);
        }
    }

    private static byte[] name(Request req) {
        byte[] name = req.string(Xattrs.XATTR_NAME_MAX, Errno.ERANGE);
        if (name.length == 0) {
            throw new FuseError(Errno.ERANGE);
        }
        return name;
    }

    int getxattr(Request req, Reply reply) {
        checkEnabled();
        Inode i = fs.inodes.get(req.nodeid);
        long size = Integer.toUnsignedLong(req.struct(FuseKernel.GETXATTR_IN_SIZE).getInt(0));
        byte[] name = name(req);
        return answer(reply, size, buf -> Xattrs.get(i.fd, name, buf));
    }

    int listxattr(Request req, Reply reply) {
        checkEnabled();
        Inode i = fs.inodes.get(req.nodeid);
        long size = Integer.toUnsignedLong(req.struct(FuseKernel.GETXATTR_IN_SIZE).getInt(0));
        return answer(reply, size, buf -> Xattrs.list(i.fd, buf));
    }

    private interface Query {
        int into(MemorySegment buf);
    }

    private static int answer(Reply reply, long size, Query query) {
        if (size == 0) {
            reply.require(FuseKernel.GETXATTR_OUT_SIZE);
            ByteBuffer b = Reply.payload(FuseKernel.GETXATTR_OUT_SIZE);
            b.putInt(query.into(MemorySegment.NULL)).putInt(0);
            return reply.send(b);
        }
        reply.require(0);
        long room = Math.min(Math.min(size, Xattrs.XATTR_SIZE_MAX), reply.capacity());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(room, 1)).asSlice(0, room);
            int n = query.into(buf);
            return reply.send(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), n);
        }
    }

    int setxattr(Request req, Reply reply) {
        checkEnabled();
        Inode i = fs.inodes.get(req.nodeid);
        ByteBuffer in = req.struct(FuseKernel.SETXATTR_IN_SIZE);
        long size = Integer.toUnsignedLong(in.getInt(0));
        int flags = in.getInt(4);
        byte[] name = name(req);
        if (size > Xattrs.XATTR_SIZE_MAX) {
            throw new FuseError(Errno.E2BIG);
        }
        if ((flags & ~(Xattrs.XATTR_CREATE | Xattrs.XATTR_REPLACE)) != 0) {
            throw new FuseError(Errno.EINVAL);
        }
        IoVector data = req.data(size);
        reply.require(0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(Math.max(size, 1)).asSlice(0, size);
            data.read(0, value, size);
            Xattrs.set(i.fd, name, value, flags);
        }
        return reply.ok();
    }

    int removexattr(Request req, Reply reply) {
        checkEnabled();
        Inode i = fs.inodes.get(req.nodeid);
        byte[] name = name(req);
        reply.require(0);
        Xattrs.remove(i.fd, name);
        return reply.ok();
    }
}
