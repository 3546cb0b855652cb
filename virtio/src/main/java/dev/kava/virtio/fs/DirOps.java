package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseKernel.align8;

import dev.kava.linux.Dirs;
import dev.kava.linux.Errno;
import dev.kava.linux.Fd;
import dev.kava.linux.FileIo;
import dev.kava.linux.FileSystem;
import dev.kava.linux.LinuxException;
import dev.kava.linux.OpenFlags;
import dev.kava.virtio.fs.Inodes.Inode;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * Requests on directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR (FSYNCDIR is
 * {@link FileOps#fsync}).
 *
 * <h2>Offsets</h2>
 * Each {@code fuse_dirent.off} is the host directory's own offset cookie of the next entry (from
 * {@code getdents64}); a READDIR at that offset seeks the host descriptor there and goes on, so
 * listings resume exactly, in buffers of any size, and entries that do not fit are simply left
 * for the next request. Records are padded to 8 bytes ({@code FUSE_DIRENT_ALIGN}).
 *
 * <h2>READDIRPLUS</h2>
 * Every entry but "." and ".." is looked up as LOOKUP would (adding a lookup the guest kernel will
 * FORGET) and carries its {@code fuse_entry_out}. The room an entry takes is known from its name
 * before the lookup, so an entry that does not fit is never looked up. An entry whose lookup fails
 * (it vanished, or the inode table is full) is still listed, with nodeid 0: the kernel then takes
 * it as a plain READDIR entry.
 */
final class DirOps {
    /** Largest host getdents64 buffer per call. */
    private static final int MAX_HOST_BUFFER = 64 * 1024;
    private static final byte[] DOT = {'.'};
    private static final byte[] DOTDOT = {'.', '.'};

    private final PassthroughFs fs;

    DirOps(PassthroughFs fs) {
        this.fs = fs;
    }

    int opendir(Request req, Reply reply) {
        Inode i = fs.inodes.get(req.nodeid);
        req.struct(FuseKernel.OPEN_IN_SIZE);
        reply.require(FuseKernel.OPEN_OUT_SIZE);
        if (i.type != FileSystem.S_IFDIR) {
            throw new FuseError(Errno.ENOTDIR);
        }
        fs.handles.checkRoom();
        Fd fd = FileSystem.reopen(i.fd, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        Handles.Handle h = fs.handles.add(i, fd, true);
        ByteBuffer b = Reply.payload(FuseKernel.OPEN_OUT_SIZE);
        b.putLong(h.fh).putInt(fs.config.cache().dirOpenFlags()).putInt(0);
        return reply.send(b);
    }

    int releasedir(Request req, Reply reply) {
        long fh = req.struct(FuseKernel.RELEASE_IN_SIZE).getLong(0);
        reply.require(0);
        fs.handles.release(fh, true);
        return reply.ok();
    }

    int readdir(Request req, Reply reply, boolean plus) {
        ByteBuffer in = req.struct(FuseKernel.READ_IN_SIZE);
        Handles.Handle h = fs.handles.get(in.getLong(0), true);
        long offset = in.getLong(8);
        long size = Integer.toUnsignedLong(in.getInt(16));
        reply.require(0);
        int room = (int) Math.min(Math.min(size, fs.config.maxWrite()), reply.capacity());
        ByteBuffer out = Reply.payload(room);
        boolean full = false;
        h.lock.lock();
        try {
            FileIo.lseek(h.fd, offset, FileIo.SEEK_SET);
            int hostBuffer = Math.clamp(room, Dirs.MIN_BUFFER, MAX_HOST_BUFFER);
            fill:
            while (true) {
                List<Dirs.Entry> entries = Dirs.read(h.fd, hostBuffer);
                if (entries.isEmpty()) {
                    break;
                }
                for (Dirs.Entry e : entries) {
                    int nameLen = e.name().length;
                    int length = align8((plus ? FuseKernel.DIRENTPLUS_NAME_OFFSET : FuseKernel.DIRENT_NAME_OFFSET) + nameLen);
                    if (out.position() + length > room) {
                        full = true;
                        break fill;
                    }
                    long ino = e.ino();
                    int type = e.type();
                    if (plus) {
                        PassthroughFs.Found f = isDot(e.name()) ? null : lookupQuietly(h.fd, e.name());
                        Reply.putEntry(out, f == null ? 0 : f.inode().nodeid, f == null ? null : f.stat(), fs.config.cache());
                        if (f != null) {
                            ino = f.stat().ino();
                            type = f.stat().type() >>> 12;
                        }
                    }
                    int start = out.position();
                    out.putLong(ino).putLong(e.nextOffset()).putInt(nameLen).putInt(type).put(e.name());
                    out.put(new byte[length - (out.position() - start) - (plus ? FuseKernel.ENTRY_OUT_SIZE : 0)]);
                }
            }
        } finally {
            h.lock.unlock();
        }
        if (full && out.position() == 0) {
            throw new FuseError(Errno.EINVAL); // not even one entry fits: an empty answer would mean "end"
        }
        return reply.send(out);
    }

    private PassthroughFs.Found lookupQuietly(Fd dir, byte[] name) {
        try {
            return fs.lookup(dir, name);
        } catch (FuseError | LinuxException e) {
            return null;
        }
    }

    private static boolean isDot(byte[] name) {
        return Arrays.equals(name, DOT) || Arrays.equals(name, DOTDOT);
    }
}
