package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseKernel.ENTRY_OUT_SIZE;
import static dev.kava.virtio.fs.FuseKernel.OPEN_OUT_SIZE;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.FileIo;
import dev.kava.linux.FileStat;
import dev.kava.linux.FileSystem;
import dev.kava.linux.OpenFlags;
import dev.kava.virtio.fs.Inodes.Inode;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Requests on regular files: OPEN, CREATE, READ, WRITE, FLUSH, FSYNC, RELEASE, FALLOCATE, LSEEK,
 * COPY_FILE_RANGE.
 *
 * <p>OPEN turns an inode's O_PATH descriptor into a real one by reopening it through
 * {@code /proc/self/fd/N} (the technique virtiofsd uses; Linux has no "open this O_PATH
 * descriptor" call): the magic link jumps to exactly the object the descriptor holds, so no name is
 * looked up and nothing the guest controls takes part. Only regular files are ever opened: a
 * symlink answers ELOOP and device nodes, FIFOs and sockets ENXIO (the guest kernel opens those
 * itself and never asks), so the server never opens a host device or blocks on a FIFO.
 *
 * <p>READ and WRITE move data between the file and the guest's buffers directly with
 * {@code preadv}/{@code pwritev} when those are native memory, through one bounded bounce buffer
 * otherwise; a transfer is at most {@link FsConfig#maxWrite()} bytes.
 */
final class FileOps {
    /** Open flags passed on from the guest; everything else (O_DIRECT, O_PATH, O_TMPFILE, ...) is dropped. */
    private static final int PASSED_OPEN_FLAGS = 3 /* O_ACCMODE */ | OpenFlags.O_APPEND | OpenFlags.O_TRUNC
            | FileSystem.O_SYNC | FileSystem.O_DSYNC | FileSystem.O_NOATIME;
    /** Longest COPY_FILE_RANGE done at once: the answer is a 32-bit count. */
    private static final long MAX_COPY = 1L << 30;

    private final PassthroughFs fs;

    FileOps(PassthroughFs fs) {
        this.fs = fs;
    }

    /** The guest's open flags as the host open will use them. */
    static int openFlags(int guest) {
        return (guest & PASSED_OPEN_FLAGS) | OpenFlags.O_NOCTTY | OpenFlags.O_CLOEXEC;
    }

    /** ELOOP for a symlink, EISDIR for a directory, ENXIO for special files: only regular files open. */
    static void checkRegular(int type) {
        if (type == FileSystem.S_IFREG) {
            return;
        }
        throw new FuseError(switch (type) {
            case FileSystem.S_IFLNK -> Errno.ELOOP;
            case FileSystem.S_IFDIR -> Errno.EISDIR;
            default -> Errno.ENXIO;
        });
    }

    private int openReply(Reply reply, long fh, int flags) {
        ByteBuffer b = Reply.payload(OPEN_OUT_SIZE);
        b.putLong(fh).putInt(flags).putInt(0);
        return reply.send(b);
    }

    int open(Request req, Reply reply) {
        Inode i = fs.inodes.get(req.nodeid);
        ByteBuffer in = req.struct(FuseKernel.OPEN_IN_SIZE);
        int flags = in.getInt(0);
        reply.require(OPEN_OUT_SIZE);
        checkRegular(i.type);
        fs.handles.checkRoom();
        Fd fd = FileSystem.reopen(i.fd, openFlags(flags));
        try {
            killOnTruncate(fd, flags, in.getInt(4));
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        Handles.Handle h = fs.handles.add(i, fd, false);
        return openReply(reply, h.fh, fs.config.cache().fileOpenFlags());
    }

    int create(Request req, Reply reply) {
        Inode parent = fs.inodes.get(req.nodeid);
        ByteBuffer in = req.struct(FuseKernel.CREATE_IN_SIZE);
        byte[] name = req.name();
        reply.require(ENTRY_OUT_SIZE + OPEN_OUT_SIZE);
        int guestFlags = in.getInt(0);
        int perm = in.getInt(4) & 07777 & ~in.getInt(8);
        fs.handles.checkRoom();
        fs.checkInodeRoom();
        FileStat parentStat = FileSystem.stat(parent.fd);
        int flags = openFlags(guestFlags);

        Fd file;
        boolean created;
        try {
            file = FileSystem.openat2(parent.fd, name, flags | OpenFlags.O_CREAT | OpenFlags.O_EXCL
                    | OpenFlags.O_NOFOLLOW, perm, PassthroughFs.RESOLVE);
            created = true;
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EEXIST || (guestFlags & OpenFlags.O_EXCL) != 0) {
                throw e;
            }
            file = openExisting(parent, name, flags);
            created = false;
            try {
                killOnTruncate(file, guestFlags, in.getInt(12));
            } catch (RuntimeException again) {
                file.close();
                throw again;
            }
        }
        PassthroughFs.Found found;
        try {
            FileStat st = FileSystem.stat(file);
            if (created) {
                PassthroughFs.giveToCaller(file, parentStat, req);
                st = PassthroughFs.fixMode(file, FileSystem.stat(file), parentStat, perm);
            }
            Fd identity = FileSystem.reopen(file, OpenFlags.O_PATH);
            found = new PassthroughFs.Found(fs.inodes.add(identity, st), st);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
        Handles.Handle h;
        try {
            h = fs.handles.add(found.inode(), file, false);
        } catch (RuntimeException e) {
            fs.inodes.forget(found.inode().nodeid, 1); // the guest never learns of this lookup
            throw e;
        }
        ByteBuffer b = Reply.payload(ENTRY_OUT_SIZE + OPEN_OUT_SIZE);
        Reply.putEntry(b, found.inode().nodeid, found.stat(), fs.config.cache());
        b.putLong(h.fh).putInt(fs.config.cache().fileOpenFlags()).putInt(0);
        return reply.send(b);
    }

    /** An O_TRUNC open by a guest caller without CAP_FSETID clears set-ID bits (HANDLE_KILLPRIV_V2). */
    private static void killOnTruncate(Fd fd, int flags, int openFlags) {
        if ((flags & OpenFlags.O_TRUNC) != 0 && (openFlags & FuseKernel.FUSE_OPEN_KILL_SUIDGID) != 0) {
            PassthroughFs.killSuidGid(fd);
        }
    }

    /** CREATE of a name that exists, without O_EXCL: opened like OPEN, so only as a regular file. */
    private static Fd openExisting(Inode parent, byte[] name, int flags) {
        try (Fd identity = FileSystem.openat2(parent.fd, name, PassthroughFs.LOOKUP_FLAGS, 0, PassthroughFs.RESOLVE)) {
            checkRegular(FileSystem.stat(identity).type());
            return FileSystem.reopen(identity, flags);
        }
    }

    int read(Request req, Reply reply) {
        ByteBuffer in = req.struct(FuseKernel.READ_IN_SIZE);
        Handles.Handle h = fs.handles.get(in.getLong(0), false);
        long offset = in.getLong(8);
        long size = Integer.toUnsignedLong(in.getInt(16));
        reply.require(0);
        if (offset < 0) {
            throw new FuseError(Errno.EINVAL);
        }
        long n = Math.min(Math.min(size, fs.config.maxWrite()), reply.capacity());
        IoVector area = reply.payloadArea(n);
        long got;
        if (area.isNative()) {
            got = FileIo.preadv(h.fd, area.segments(), offset);
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment bounce = arena.allocate(Math.max(n, 1));
                got = FileIo.preadv(h.fd, List.of(bounce.asSlice(0, n)), offset);
                area.write(0, bounce.asSlice(0, got));
            }
        }
        return reply.sendInPlace(got);
    }

    int write(Request req, Reply reply) {
        ByteBuffer in = req.struct(FuseKernel.WRITE_IN_SIZE);
        Handles.Handle h = fs.handles.get(in.getLong(0), false);
        long offset = in.getLong(8);
        long size = Integer.toUnsignedLong(in.getInt(16));
        if (offset < 0 || size > fs.config.maxWrite()) {
            throw new FuseError(Errno.EINVAL);
        }
        IoVector data = req.data(size);
        reply.require(FuseKernel.WRITE_OUT_SIZE);
        if ((in.getInt(20) & FuseKernel.FUSE_WRITE_KILL_SUIDGID) != 0) {
            PassthroughFs.killSuidGid(h.fd); // before the data lands, as the kernel's file_remove_privs does
        }
        long written;
        if (data.isNative()) {
            written = FileIo.pwritev(h.fd, data.segments(), offset);
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment bounce = arena.allocate(Math.max(size, 1)).asSlice(0, size);
                data.read(0, bounce, size);
                written = FileIo.pwritev(h.fd, List.of(bounce), offset);
            }
        }
        ByteBuffer b = Reply.payload(FuseKernel.WRITE_OUT_SIZE);
        b.putInt((int) written).putInt(0);
        return reply.send(b);
    }

    int release(Request req, Reply reply) {
        long fh = req.struct(FuseKernel.RELEASE_IN_SIZE).getLong(0);
        reply.require(0);
        fs.handles.release(fh, false);
        return reply.ok();
    }

    /**
     * FLUSH (each close() in the guest): nothing to do, as no POSIX locks are offered and writes
     * go straight to the host file; only the handle is checked.
     */
    int flush(Request req, Reply reply) {
        fs.handles.get(req.struct(FuseKernel.FLUSH_IN_SIZE).getLong(0), false);
        return reply.ok();
    }

    int fsync(Request req, Reply reply, boolean directory) {
        ByteBuffer in = req.struct(FuseKernel.FSYNC_IN_SIZE);
        Handles.Handle h = fs.handles.get(in.getLong(0), directory);
        reply.require(0);
        FileIo.fsync(h.fd, (in.getInt(8) & FuseKernel.FUSE_FSYNC_FDATASYNC) != 0);
        return reply.ok();
    }

    int fallocate(Request req, Reply reply) {
        ByteBuffer in = req.struct(FuseKernel.FALLOCATE_IN_SIZE);
        Handles.Handle h = fs.handles.get(in.getLong(0), false);
        reply.require(0);
        FileIo.fallocate(h.fd, in.getInt(24), in.getLong(8), in.getLong(16));
        return reply.ok();
    }

    /** LSEEK: the guest kernel asks only for SEEK_DATA and SEEK_HOLE (it does the others itself). */
    int lseek(Request req, Reply reply) {
        ByteBuffer in = req.struct(FuseKernel.LSEEK_IN_SIZE);
        Handles.Handle h = fs.handles.get(in.getLong(0), false);
        int whence = in.getInt(16);
        if (whence != FileIo.SEEK_DATA && whence != FileIo.SEEK_HOLE) {
            throw new FuseError(Errno.EINVAL);
        }
        reply.require(FuseKernel.LSEEK_OUT_SIZE);
        long at = FileIo.lseek(h.fd, in.getLong(8), whence);
        ByteBuffer b = Reply.payload(FuseKernel.LSEEK_OUT_SIZE);
        b.putLong(at);
        return reply.send(b);
    }

    int copyFileRange(Request req, Reply reply) {
        ByteBuffer in = req.struct(FuseKernel.COPY_FILE_RANGE_IN_SIZE);
        Handles.Handle src = fs.handles.get(in.getLong(0), false);
        long srcOffset = in.getLong(8);
        Handles.Handle dst = fs.handles.get(in.getLong(24), false);
        long dstOffset = in.getLong(32);
        long length = in.getLong(40);
        if (in.getLong(48) != 0 || srcOffset < 0 || dstOffset < 0) {
            throw new FuseError(Errno.EINVAL);
        }
        reply.require(FuseKernel.WRITE_OUT_SIZE);
        long copied = FileIo.copyFileRange(src.fd, srcOffset, dst.fd, dstOffset,
                Long.compareUnsigned(length, MAX_COPY) > 0 ? MAX_COPY : length, 0);
        ByteBuffer b = Reply.payload(FuseKernel.WRITE_OUT_SIZE);
        b.putInt((int) copied).putInt(0);
        return reply.send(b);
    }
}
