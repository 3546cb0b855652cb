package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseKernel.ATTR_OUT_SIZE;
import static dev.kava.virtio.fs.FuseKernel.ENTRY_OUT_SIZE;

import dev.kava.linux.Errno;
import dev.kava.linux.Fd;
import dev.kava.linux.FileIo;
import dev.kava.linux.FileStat;
import dev.kava.linux.FileSystem;
import dev.kava.linux.FsStats;
import dev.kava.linux.OpenFlags;
import dev.kava.virtio.fs.Inodes.Inode;
import java.nio.ByteBuffer;

/**
 * The passthrough file system behind {@link FuseServer}: the inode and handle tables and the
 * requests about names and metadata (LOOKUP, GETATTR, SETATTR, READLINK, SYMLINK, MKNOD, MKDIR,
 * UNLINK, RMDIR, RENAME, RENAME2, LINK, STATFS, ACCESS). Files, directories and xattrs are served
 * by {@link FileOps}, {@link DirOps} and {@link XattrOps} on top of it.
 *
 * <h2>Confinement</h2>
 * Every name the guest sends is one validated path component ({@link Request#name}) and is
 * resolved by {@code openat2(parentFd, name, O_PATH | O_NOFOLLOW, RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS)} against the descriptor of an inode the guest already holds. By induction
 * from the root every such descriptor lies beneath the shared directory: the kernel refuses ".."
 * and absolute or escaping symlinks under RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS (which implies
 * RESOLVE_NO_MAGICLINKS) refuses to follow any symlink, and a trailing symlink is opened as itself.
 * RESOLVE_NO_XDEV is deliberately absent: the runtime bind-mounts container root file systems and
 * volumes under the share, and lookups must descend into them. Creating, removing, renaming and
 * linking take (parent descriptor, single name) pairs the same way; LINK's source is one of our own
 * descriptors. Calls that need a path on an O_PATH descriptor go through {@code /proc/self/fd/N}
 * ({@link FileSystem}), which names exactly that object and never a symlink's target.
 *
 * <h2>Owners</h2>
 * The server runs as root. New nodes are created as root and then given to the requesting guest
 * uid/gid ({@code fchownat} on the new O_PATH descriptor); in a set-group-ID directory the group
 * inherited from the directory is kept. The mode is then set to exactly what the guest asked
 * (after its umask), undoing the host process's umask and the set-ID bits chown clears.
 */
final class PassthroughFs implements AutoCloseable {
    /** How every lookup opens: an identity, never following a trailing symlink. */
    static final int LOOKUP_FLAGS = OpenFlags.O_PATH | OpenFlags.O_NOFOLLOW;
    /** How every lookup resolves: beneath the parent, no symlinks at all (so no magic links). */
    static final long RESOLVE = FileSystem.RESOLVE_BENEATH | FileSystem.RESOLVE_NO_SYMLINKS;
    private static final int PERMISSION_BITS = 07777;

    final FsConfig config;
    final Inodes inodes;
    final Handles handles;

    /** A looked-up inode (one lookup added) and its attributes. */
    record Found(Inode inode, FileStat stat) {}

    PassthroughFs(FsConfig config) {
        this.config = config;
        Fd root = Fd.open(config.sharedDir().toString(),
                OpenFlags.O_PATH | OpenFlags.O_DIRECTORY | OpenFlags.O_CLOEXEC, 0);
        try {
            FileStat st = FileSystem.stat(root);
            if (!st.isDirectory()) {
                throw new IllegalArgumentException("not a directory: " + config.sharedDir());
            }
            this.inodes = new Inodes(root, st, config.maxInodes(), config.budget());
        } catch (RuntimeException e) {
            root.close();
            throw e;
        }
        this.handles = new Handles(config.maxHandles(), config.budget());
    }

    /** Resolves one name under {@code dir} (see class doc) and adds a lookup of what it names. */
    Found lookup(Fd dir, byte[] name) {
        Fd fd = FileSystem.openat2(dir, name, LOOKUP_FLAGS, 0, RESOLVE);
        FileStat st;
        try {
            st = FileSystem.stat(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        return new Found(inodes.add(fd, st), st);
    }

    int entryReply(Reply reply, Found f) {
        ByteBuffer b = Reply.payload(ENTRY_OUT_SIZE);
        Reply.putEntry(b, f.inode().nodeid, f.stat(), config.cache());
        return reply.send(b);
    }

    private int attrReply(Reply reply, FileStat st) {
        ByteBuffer b = Reply.payload(ATTR_OUT_SIZE);
        Reply.putAttrOut(b, st, config.cache());
        return reply.send(b);
    }

    int lookup(Request req, Reply reply) {
        Inode parent = inodes.get(req.nodeid);
        byte[] name = req.name();
        reply.require(ENTRY_OUT_SIZE);
        return entryReply(reply, lookup(parent.fd, name));
    }

    int getattr(Request req, Reply reply) {
        Inode i = inodes.get(req.nodeid);
        req.struct(FuseKernel.GETATTR_IN_SIZE); // a handle names the same inode: its O_PATH fd serves
        reply.require(ATTR_OUT_SIZE);
        return attrReply(reply, FileSystem.stat(i.fd));
    }

    int setattr(Request req, Reply reply) {
        Inode i = inodes.get(req.nodeid);
        ByteBuffer in = req.struct(FuseKernel.SETATTR_IN_SIZE);
        reply.require(ATTR_OUT_SIZE);
        int valid = in.getInt(0);
        long fh = in.getLong(8);
        long size = in.getLong(16);
        long atime = in.getLong(32);
        long mtime = in.getLong(40);
        long atimensec = Integer.toUnsignedLong(in.getInt(56));
        long mtimensec = Integer.toUnsignedLong(in.getInt(60));
        int mode = in.getInt(68);
        int uid = in.getInt(76);
        int gid = in.getInt(80);

        Handles.Handle h = null;
        if ((valid & FuseKernel.FATTR_FH) != 0 && (valid & FuseKernel.FATTR_SIZE) != 0) {
            h = handles.get(fh, false);
            if (h.inode.dev != i.dev || h.inode.ino != i.ino) {
                throw new FuseError(Errno.EBADF);
            }
        }
        boolean times = (valid & (FuseKernel.FATTR_ATIME | FuseKernel.FATTR_MTIME
                | FuseKernel.FATTR_ATIME_NOW | FuseKernel.FATTR_MTIME_NOW)) != 0;
        long aNsec = timeNsec(valid, FuseKernel.FATTR_ATIME, FuseKernel.FATTR_ATIME_NOW, atimensec);
        long mNsec = timeNsec(valid, FuseKernel.FATTR_MTIME, FuseKernel.FATTR_MTIME_NOW, mtimensec);

        // owner first: chown clears set-ID bits, so a mode sent along with it must come after
        if ((valid & (FuseKernel.FATTR_UID | FuseKernel.FATTR_GID)) != 0) {
            FileSystem.chown(i.fd, (valid & FuseKernel.FATTR_UID) != 0 ? uid : -1,
                    (valid & FuseKernel.FATTR_GID) != 0 ? gid : -1);
        }
        if ((valid & FuseKernel.FATTR_MODE) != 0) {
            if (i.type == FileSystem.S_IFLNK) {
                throw new FuseError(Errno.EOPNOTSUPP); // Linux cannot chmod a symlink (lchmod)
            }
            FileSystem.chmod(i.fd, mode & PERMISSION_BITS);
        }
        if ((valid & FuseKernel.FATTR_SIZE) != 0) {
            if (h != null) {
                FileIo.ftruncate(h.fd, size);
            } else if (i.type == FileSystem.S_IFREG) {
                FileSystem.truncate(i.fd, size);
            } else {
                throw new FuseError(i.type == FileSystem.S_IFDIR ? Errno.EISDIR : Errno.EINVAL);
            }
        }
        if ((valid & FuseKernel.FATTR_KILL_SUIDGID) != 0 && (valid & FuseKernel.FATTR_MODE) == 0
                && (valid & FuseKernel.FATTR_SIZE) != 0) {
            killSuidGid(h != null ? h.fd : i.fd); // a truncate by root keeps them; the guest caller could not
        }
        if (times) {
            FileSystem.utimens(i.fd, atime, aNsec, mtime, mNsec);
        }
        return attrReply(reply, FileSystem.stat(i.fd));
    }

    /** The {@code tv_nsec} for one of SETATTR's times: NOW, the given time, or OMIT. */
    private static long timeNsec(int valid, int set, int now, long nsec) {
        if ((valid & now) != 0) {
            return FileSystem.UTIME_NOW;
        }
        if ((valid & set) != 0) {
            if (nsec >= 1_000_000_000L) {
                throw new FuseError(Errno.EINVAL);
            }
            return nsec;
        }
        return FileSystem.UTIME_OMIT;
    }

    int readlink(Request req, Reply reply) {
        Inode i = inodes.get(req.nodeid);
        if (i.type != FileSystem.S_IFLNK) {
            throw new FuseError(Errno.EINVAL);
        }
        byte[] target = FileSystem.readlink(i.fd);
        return reply.send(target, target.length);
    }

    int mknod(Request req, Reply reply) {
        Inode parent = inodes.get(req.nodeid);
        ByteBuffer in = req.struct(FuseKernel.MKNOD_IN_SIZE);
        byte[] name = req.name();
        reply.require(ENTRY_OUT_SIZE);
        int mode = in.getInt(0);
        int rdev = in.getInt(4);
        int umask = in.getInt(8);
        int type = mode & FileSystem.S_IFMT;
        switch (type) {
            case 0 -> type = FileSystem.S_IFREG;
            case FileSystem.S_IFREG, FileSystem.S_IFIFO, FileSystem.S_IFSOCK -> { }
            // device nodes would be host devices to anything on the host that opens them; only
            // overlayfs' whiteout (a 0/0 character device) is allowed
            case FileSystem.S_IFCHR -> {
                if (rdev != 0) {
                    throw new FuseError(Errno.EPERM);
                }
            }
            case FileSystem.S_IFBLK -> throw new FuseError(Errno.EPERM);
            default -> throw new FuseError(Errno.EINVAL);
        }
        int perm = mode & PERMISSION_BITS & ~umask;
        checkInodeRoom();
        FileStat parentStat = FileSystem.stat(parent.fd);
        FileSystem.mknodat(parent.fd, name, type | perm, 0);
        return entryReply(reply, adopt(parent, parentStat, name, req, perm));
    }

    int mkdir(Request req, Reply reply) {
        Inode parent = inodes.get(req.nodeid);
        ByteBuffer in = req.struct(FuseKernel.MKDIR_IN_SIZE);
        byte[] name = req.name();
        reply.require(ENTRY_OUT_SIZE);
        int perm = in.getInt(0) & PERMISSION_BITS & ~in.getInt(4);
        checkInodeRoom();
        FileStat parentStat = FileSystem.stat(parent.fd);
        FileSystem.mkdirat(parent.fd, name, perm);
        return entryReply(reply, adopt(parent, parentStat, name, req, perm));
    }

    int symlink(Request req, Reply reply) {
        Inode parent = inodes.get(req.nodeid);
        byte[] name = req.name();
        byte[] target = req.string(FuseKernel.PATH_MAX - 1, Errno.ENAMETOOLONG);
        if (target.length == 0) {
            throw new FuseError(Errno.ENOENT);
        }
        reply.require(ENTRY_OUT_SIZE);
        checkInodeRoom();
        FileStat parentStat = FileSystem.stat(parent.fd);
        FileSystem.symlinkat(target, parent.fd, name); // stored as text; the server never follows it
        return entryReply(reply, adopt(parent, parentStat, name, req, -1));
    }

    /**
     * Takes a node just made under {@code parent}: opens it as an identity, gives it to the guest
     * caller, sets its mode to {@code perm} (-1: leave it, for symlinks) and adds a lookup. If the
     * guest raced a rename in between, this adopts whatever now has the name, still beneath the
     * share.
     */
    Found adopt(Inode parent, FileStat parentStat, byte[] name, Request req, int perm) {
        Fd fd = FileSystem.openat2(parent.fd, name, LOOKUP_FLAGS, 0, RESOLVE);
        FileStat st;
        try {
            giveToCaller(fd, parentStat, req);
            st = FileSystem.stat(fd);
            st = fixMode(fd, st, parentStat, perm);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        return new Found(inodes.add(fd, st), st);
    }

    /** Chowns a new node to the requesting uid/gid; keeps the group a set-group-ID parent gave it. */
    static void giveToCaller(Fd fd, FileStat parentStat, Request req) {
        boolean inheritGroup = (parentStat.mode() & FileSystem.S_ISGID) != 0;
        FileSystem.chown(fd, req.uid, inheritGroup ? -1 : req.gid);
    }

    /** Sets exactly {@code perm} (plus set-group-ID for a directory in a set-group-ID parent). */
    static FileStat fixMode(Fd fd, FileStat st, FileStat parentStat, int perm) {
        if (perm < 0) {
            return st;
        }
        int want = perm;
        if (st.isDirectory() && (parentStat.mode() & FileSystem.S_ISGID) != 0) {
            want |= FileSystem.S_ISGID;
        }
        if ((st.mode() & PERMISSION_BITS) == want) {
            return st;
        }
        FileSystem.chmod(fd, want);
        return FileSystem.stat(fd);
    }

    /**
     * HANDLE_KILLPRIV_V2: what the host kernel does when an unprivileged process writes or
     * truncates a regular file, done explicitly because the server itself has CAP_FSETID: clear
     * set-user-ID, and set-group-ID when group-executable. (File capabilities need no help: the host
     * kernel drops {@code security.capability} on every write and truncate, root or not; a chown
     * clears all of them by itself.)
     */
    static void killSuidGid(Fd fd) {
        FileStat st = FileSystem.stat(fd);
        int mode = st.mode() & PERMISSION_BITS;
        int kill = FileSystem.S_ISUID;
        if ((mode & (FileSystem.S_ISGID | 0010)) == (FileSystem.S_ISGID | 0010)) {
            kill |= FileSystem.S_ISGID;
        }
        if (st.isRegular() && (mode & kill) != 0) {
            FileSystem.chmod(fd, mode & ~kill);
        }
    }

    /** ENFILE before creating a node that could not be handed out. */
    void checkInodeRoom() {
        if (inodes.isFull()) {
            throw new FuseError(Errno.ENFILE);
        }
    }

    int unlink(Request req, Reply reply, boolean directory) {
        Inode parent = inodes.get(req.nodeid);
        byte[] name = req.name();
        reply.require(0);
        FileSystem.unlinkat(parent.fd, name, directory ? FileSystem.AT_REMOVEDIR : 0);
        return reply.ok();
    }

    int rename(Request req, Reply reply, boolean withFlags) {
        Inode oldParent = inodes.get(req.nodeid);
        ByteBuffer in = req.struct(withFlags ? FuseKernel.RENAME2_IN_SIZE : FuseKernel.RENAME_IN_SIZE);
        int flags = withFlags ? in.getInt(8) : 0;
        if ((flags & ~(FileSystem.RENAME_NOREPLACE | FileSystem.RENAME_EXCHANGE | FileSystem.RENAME_WHITEOUT)) != 0) {
            throw new FuseError(Errno.EINVAL);
        }
        Inode newParent = inodes.get(in.getLong(0));
        byte[] oldName = req.name();
        byte[] newName = req.name();
        reply.require(0);
        FileSystem.renameat2(oldParent.fd, oldName, newParent.fd, newName, flags);
        return reply.ok();
    }

    int link(Request req, Reply reply) {
        Inode parent = inodes.get(req.nodeid);
        ByteBuffer in = req.struct(FuseKernel.LINK_IN_SIZE);
        Inode target = inodes.get(in.getLong(0));
        byte[] name = req.name();
        reply.require(ENTRY_OUT_SIZE);
        if (target.type == FileSystem.S_IFDIR) {
            throw new FuseError(Errno.EPERM);
        }
        FileSystem.link(target.fd, parent.fd, name);
        return entryReply(reply, lookup(parent.fd, name));
    }

    int statfs(Request req, Reply reply) {
        Inode i = inodes.get(req.nodeid);
        reply.require(FuseKernel.STATFS_OUT_SIZE);
        FsStats s = FileSystem.statfs(i.fd);
        ByteBuffer b = Reply.payload(FuseKernel.STATFS_OUT_SIZE);
        b.putLong(s.blocks()).putLong(s.bfree()).putLong(s.bavail()).putLong(s.files()).putLong(s.ffree())
                .putInt((int) s.bsize()).putInt((int) s.namelen()).putInt((int) s.frsize())
                .putInt(0).put(new byte[24]);
        return reply.send(b);
    }

    /**
     * ACCESS, computed from the mode bits for the request's uid/gid (supplementary groups are not
     * known). The guest kernel mounts virtio-fs with default_permissions and checks on its own,
     * so it rarely asks.
     */
    int access(Request req, Reply reply) {
        Inode i = inodes.get(req.nodeid);
        int mask = req.struct(FuseKernel.ACCESS_IN_SIZE).getInt(0) & 7;
        reply.require(0);
        FileStat st = FileSystem.stat(i.fd);
        if (mask != 0) {
            int mode = st.mode();
            if (req.uid == 0) {
                boolean anyExec = (mode & 0111) != 0 || st.isDirectory();
                if ((mask & 1) != 0 && !anyExec) {
                    throw new FuseError(Errno.EACCES);
                }
            } else {
                int bits = req.uid == st.uid() ? mode >> 6 : req.gid == st.gid() ? mode >> 3 : mode;
                if ((mask & ~bits & 7) != 0) {
                    throw new FuseError(Errno.EACCES);
                }
            }
        }
        return reply.ok();
    }

    /** Forgets every inode and closes every handle (INIT, DESTROY, device reset). */
    void reset() {
        handles.clear();
        inodes.clear();
    }

    @Override
    public void close() {
        reset();
        inodes.root.fd.close();
    }
}
