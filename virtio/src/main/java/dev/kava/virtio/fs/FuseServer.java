package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseKernel.*;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A FUSE file server for virtio-fs that passes a host directory through to the guest: the
 * transport-independent part of the device, fed with the buffers of one descriptor chain at a time
 * by whatever owns the virtqueues (the built-in VMM or a vhost-user backend for QEMU).
 *
 * <h2>Contract</h2>
 * {@link #handle} takes one request from a request queue: {@code in}, the device-readable buffers
 * ({@code fuse_in_header}, the op struct and its payload, split across segments at any byte), and
 * {@code out}, the device-writable ones (for {@code fuse_out_header} and the answer, split
 * likewise). It writes the reply into {@code out} and returns its length, which the caller reports
 * as the used length; 0 means no reply (FORGET, BATCH_FORGET, INTERRUPT, or buffers too small even
 * for a header). {@link #handleHighPriority} does the same for the hiprio queue (FORGET,
 * BATCH_FORGET, INTERRUPT). Both are thread-safe: requests from several queues or threads may run
 * at once. Both block in file system calls, so call them from platform threads.
 *
 * <h2>The guest is hostile</h2>
 * Nothing in a request is trusted. {@code header.len} must fit in the readable buffers (EINVAL);
 * op structs shorter than their size, names without NUL, empty or with '/', ".", ".." (EINVAL) or
 * longer than 255 bytes (ENAMETOOLONG), unknown nodeids or file handles (EBADF), unknown opcodes
 * (ENOSYS) and requests before INIT (EIO) are answered with errors. A reply that does not fit the
 * writable buffers is ERANGE, or nothing if the header does not fit; it is checked before anything
 * is done, so the guest never misses a side effect. Every allocation is bounded by a constant
 * (names 255 bytes, symlinks 4 KiB, xattr values 64 KiB, transfers {@link FsConfig#maxWrite()}),
 * never by a length the guest wrote, and every field is read from guest memory exactly once.
 * No exception leaves {@code handle}: a host failure becomes its errno, anything unexpected EIO.
 *
 * <h2>Confinement</h2>
 * The guest reaches nothing outside {@link FsConfig#sharedDir()}: inodes are O_PATH descriptors,
 * names single components resolved with {@code openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)},
 * symlinks are stored and returned as text but never followed, and operations needing a path go
 * through {@code /proc/self/fd/N}; see {@link PassthroughFs} and the package doc for the reasoning.
 * Device nodes cannot be created (EPERM; overlayfs whiteouts excepted) and only regular files and
 * directories are ever opened.
 *
 * <h2>INIT</h2>
 * Protocol 7.31 to 7.36 (a newer guest is answered 7.36). Offered, where the guest offers them:
 * ASYNC_READ, ATOMIC_O_TRUNC, BIG_WRITES, AUTO_INVAL_DATA, DO_READDIRPLUS, READDIRPLUS_AUTO,
 * ASYNC_DIO, PARALLEL_DIROPS, MAX_PAGES (max_write and max_pages from {@link FsConfig#maxWrite()})
 * and HANDLE_KILLPRIV_V2 (READDIRPLUS not with {@link CacheMode#NONE}, whose zero timeouts make
 * its attributes useless); the guest's max_readahead is kept. HANDLE_KILLPRIV_V2 is needed for
 * correctness, not only speed: the server writes as root with CAP_FSETID, so the host kernel would
 * keep set-ID bits that an unprivileged guest writer must clear, and Linux 6.1's direct-I/O write
 * path (cache=none) does not clear them from the guest side. With it the server clears them when a
 * WRITE, a truncating SETATTR or an O_TRUNC OPEN/CREATE carries the KILL_SUIDGID flag (and the
 * guest may skip its per-write security.capability probe). Not offered: locks (the guest keeps
 * them locally), WRITEBACK_CACHE, EXPORT_SUPPORT (needs ".." lookups), HANDLE_KILLPRIV (v1),
 * POSIX_ACL, SETXATTR_EXT, SUBMOUNTS, DAX. An INIT while initialized (a guest that rebooted)
 * starts afresh: every inode and handle of the previous session is dropped.
 */
public final class FuseServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(FuseServer.class.getName());

    /** INIT flags this server implements; the reply carries those the guest also offered. */
    static final int OFFERED_FLAGS = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES
            | FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO
            | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_HANDLE_KILLPRIV_V2;
    private static final int PAGE_SIZE = 4096;
    private static final int FORGET_CHUNK = 256;

    private final FsConfig config;
    private final PassthroughFs fs;
    private final FileOps files;
    private final DirOps dirs;
    private final XattrOps xattrs;
    /** Read side: any request; write side: INIT, DESTROY, reset and close, which drop all state. */
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private volatile boolean initialized;
    private volatile boolean closed;

    /**
     * Opens the shared directory and makes a server that waits for INIT. Throws
     * {@link dev.kava.linux.LinuxException} if the directory cannot be opened.
     */
    public FuseServer(FsConfig config) {
        this.config = config;
        this.fs = new PassthroughFs(config);
        this.files = new FileOps(fs);
        this.dirs = new DirOps(fs);
        this.xattrs = new XattrOps(fs);
    }

    public FsConfig config() {
        return config;
    }

    /** Whether INIT was answered and no DESTROY, reset or close came since. */
    public boolean isInitialized() {
        return initialized;
    }

    /** Inodes the guest holds now, the root included (at most {@link FsConfig#maxInodes()}). */
    public int inodeCount() {
        return fs.inodes.size();
    }

    /** Files and directories open now (at most {@link FsConfig#maxHandles()}). */
    public int openHandleCount() {
        return fs.handles.size();
    }

    /**
     * Serves one request-queue request; returns the bytes written to {@code out} (0: no reply).
     * Never throws.
     */
    public int handle(List<MemorySegment> in, List<MemorySegment> out) {
        return serve(in, out, false);
    }

    /**
     * Serves one hiprio-queue request: FORGET, BATCH_FORGET, INTERRUPT (none has a reply, so this
     * returns 0); any other opcode is answered EINVAL if {@code out} has room. Never throws.
     */
    public int handleHighPriority(List<MemorySegment> in, List<MemorySegment> out) {
        return serve(in, out, true);
    }

    /**
     * Forgets every inode and handle and waits for a new INIT: what a device reset does. Requests
     * running meanwhile finish first.
     */
    public void reset() {
        Lock l = lifecycle.writeLock();
        l.lock();
        try {
            initialized = false;
            if (!closed) {
                fs.reset();
            }
        } finally {
            l.unlock();
        }
    }

    /** Closes every descriptor, the shared directory's too; later requests answer EIO. */
    @Override
    public void close() {
        Lock l = lifecycle.writeLock();
        l.lock();
        try {
            if (!closed) {
                closed = true;
                initialized = false;
                fs.close();
            }
        } finally {
            l.unlock();
        }
    }

    private int serve(List<MemorySegment> inList, List<MemorySegment> outList, boolean highPriority) {
        IoVector out;
        try {
            out = IoVector.of(outList);
        } catch (RuntimeException e) {
            return 0; // no usable reply buffers: nothing can be answered
        }
        Reply reply = new Reply(out, 0);
        try {
            Request req = Request.parse(IoVector.of(inList));
            boolean noReply = req.opcode == FUSE_FORGET || req.opcode == FUSE_BATCH_FORGET
                    || req.opcode == FUSE_INTERRUPT;
            if (noReply) {
                if (req.wellFormed()) {
                    try {
                        noReply(req);
                    } catch (RuntimeException malformed) {
                        // a FORGET cut short: there is no reply to carry an error
                    }
                }
                return 0;
            }
            reply = new Reply(out, req.unique);
            if (!req.wellFormed() || highPriority) {
                return reply.error(Errno.EINVAL);
            }
            return dispatch(req, reply);
        } catch (Throwable t) {
            int errno = errnoOf(t);
            try {
                return reply.error(errno);
            } catch (Throwable again) {
                return 0;
            }
        }
    }

    private static int errnoOf(Throwable t) {
        int errno;
        if (t instanceof FuseError f) {
            errno = f.errno();
        } else if (t instanceof ErrnoException e) {
            errno = e.errno(); // host and guest are both Linux on x86-64: the numbers are the same
        } else {
            LOG.log(System.Logger.Level.WARNING, "virtio-fs request failed unexpectedly", t);
            errno = Errno.EIO;
        }
        return errno > 0 && errno < 4096 ? errno : Errno.EIO;
    }

    /** FORGET, BATCH_FORGET, INTERRUPT: no reply, errors swallowed. */
    private void noReply(Request req) {
        Lock l = lifecycle.readLock();
        l.lock();
        try {
            if (!initialized) {
                return;
            }
            switch (req.opcode) {
                case FUSE_FORGET -> fs.inodes.forget(req.nodeid, req.struct(FORGET_IN_SIZE).getLong(0));
                case FUSE_BATCH_FORGET -> batchForget(req);
                default -> { } // INTERRUPT: requests are answered synchronously; nothing is left to interrupt
            }
        } finally {
            l.unlock();
        }
    }

    /** Forgets {@code count} nodeids, or as many as the request really holds, a chunk at a time. */
    private void batchForget(Request req) {
        long count = Integer.toUnsignedLong(req.struct(BATCH_FORGET_IN_SIZE).getInt(0));
        count = Math.min(count, req.remaining() / FORGET_ONE_SIZE);
        while (count > 0) {
            int n = (int) Math.min(count, FORGET_CHUNK);
            ByteBuffer b = req.struct(n * FORGET_ONE_SIZE);
            for (int k = 0; k < n; k++) {
                fs.inodes.forget(b.getLong(k * FORGET_ONE_SIZE), b.getLong(k * FORGET_ONE_SIZE + 8));
            }
            count -= n;
        }
    }

    private int dispatch(Request req, Reply reply) {
        if (req.opcode == FUSE_INIT || req.opcode == FUSE_DESTROY) {
            Lock l = lifecycle.writeLock();
            l.lock();
            try {
                if (closed) {
                    throw new FuseError(Errno.EIO);
                }
                return req.opcode == FUSE_INIT ? init(req, reply) : destroy(reply);
            } finally {
                l.unlock();
            }
        }
        Lock l = lifecycle.readLock();
        l.lock();
        try {
            if (!initialized) {
                throw new FuseError(Errno.EIO);
            }
            return switch (req.opcode) {
                case FUSE_LOOKUP -> fs.lookup(req, reply);
                case FUSE_GETATTR -> fs.getattr(req, reply);
                case FUSE_SETATTR -> fs.setattr(req, reply);
                case FUSE_READLINK -> fs.readlink(req, reply);
                case FUSE_SYMLINK -> fs.symlink(req, reply);
                case FUSE_MKNOD -> fs.mknod(req, reply);
                case FUSE_MKDIR -> fs.mkdir(req, reply);
                case FUSE_UNLINK -> fs.unlink(req, reply, false);
                case FUSE_RMDIR -> fs.unlink(req, reply, true);
                case FUSE_RENAME -> fs.rename(req, reply, false);
                case FUSE_RENAME2 -> fs.rename(req, reply, true);
                case FUSE_LINK -> fs.link(req, reply);
                case FUSE_STATFS -> fs.statfs(req, reply);
                case FUSE_ACCESS -> fs.access(req, reply);
                case FUSE_OPEN -> files.open(req, reply);
                case FUSE_CREATE -> files.create(req, reply);
                case FUSE_READ -> files.read(req, reply);
                case FUSE_WRITE -> files.write(req, reply);
                case FUSE_FLUSH -> files.flush(req, reply);
                case FUSE_FSYNC -> files.fsync(req, reply, false);
                case FUSE_RELEASE -> files.release(req, reply);
                case FUSE_FALLOCATE -> files.fallocate(req, reply);
                case FUSE_LSEEK -> files.lseek(req, reply);
                case FUSE_COPY_FILE_RANGE -> files.copyFileRange(req, reply);
                case FUSE_OPENDIR -> dirs.opendir(req, reply);
                case FUSE_READDIR -> dirs.readdir(req, reply, false);
                case FUSE_READDIRPLUS -> dirs.readdir(req, reply, true);
                case FUSE_RELEASEDIR -> dirs.releasedir(req, reply);
                case FUSE_FSYNCDIR -> files.fsync(req, reply, true);
                case FUSE_GETXATTR -> xattrs.getxattr(req, reply);
                case FUSE_LISTXATTR -> xattrs.listxattr(req, reply);
                case FUSE_SETXATTR -> xattrs.setxattr(req, reply);
                case FUSE_REMOVEXATTR -> xattrs.removexattr(req, reply);
                default -> throw new FuseError(Errno.ENOSYS);
            };
        } finally {
            l.unlock();
        }
    }

    private int init(Request req, Reply reply) {
        ByteBuffer in = req.struct(INIT_IN_SIZE);
        int major = in.getInt(0);
        int minor = in.getInt(4);
        int maxReadahead = in.getInt(8);
        int flags = in.getInt(12);
        reply.require(INIT_OUT_SIZE);
        if (major < FUSE_KERNEL_VERSION) {
            throw new FuseError(Errno.EPROTO);
        }
        ByteBuffer out = Reply.payload(INIT_OUT_SIZE);
        if (major > FUSE_KERNEL_VERSION) {
            // the kernel will send INIT again with our major
            out.putInt(FUSE_KERNEL_VERSION).putInt(FUSE_KERNEL_MINOR_VERSION).put(new byte[INIT_OUT_SIZE - 8]);
            return reply.send(out);
        }
        if (minor < MIN_MINOR_VERSION) {
            throw new FuseError(Errno.EPROTO);
        }
        fs.reset();
        int agreed = flags & OFFERED_FLAGS;
        if (config.cache() == CacheMode.NONE) {
            // attributes expire at once: READDIRPLUS would look up every entry for nothing
            agreed &= ~(FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO);
        }
        int maxPages = Math.min(config.maxWrite() / PAGE_SIZE, 0xffff);
        out.putInt(FUSE_KERNEL_VERSION)
                .putInt(Math.min(minor, FUSE_KERNEL_MINOR_VERSION))
                .putInt(maxReadahead)
                .putInt(agreed)
                .putShort((short) 0) // max_background: the kernel's default
                .putShort((short) 0) // congestion_threshold: the kernel's default
                .putInt(config.maxWrite())
                .putInt(1) // time_gran: nanoseconds
                .putShort((short) maxPages)
                .putShort((short) 0) // map_alignment: no DAX
                .putInt(0) // flags2: nothing offered there
                .put(new byte[28]);
        initialized = true;
        return reply.send(out);
    }

    private int destroy(Reply reply) {
        reply.require(0);
        initialized = false;
        fs.reset();
        return reply.ok();
    }
}
