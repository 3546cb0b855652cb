package dev.kava.virtio.fs;

/**
 * The FUSE kernel protocol as this server speaks it: opcodes, flags and struct sizes from
 * {@code <linux/fuse.h>} (protocol 7.36). Offsets are those of the C structs; every struct is
 * little-endian and padded to 8 bytes. {@code FuseKernelLayoutTest} checks these numbers against
 * the header with gcc.
 */
final class FuseKernel {
    private FuseKernel() {}

    static final int FUSE_KERNEL_VERSION = 7;
    /** The minor version this server implements; a guest offering more gets this one. */
    static final int FUSE_KERNEL_MINOR_VERSION = 36;
    /** Oldest minor version accepted: virtio-fs itself arrived with 7.31 (Linux 5.4). */
    static final int MIN_MINOR_VERSION = 31;
    static final long FUSE_ROOT_ID = 1;

    // opcodes
    static final int FUSE_LOOKUP = 1;
    static final int FUSE_FORGET = 2;
    static final int FUSE_GETATTR = 3;
    static final int FUSE_SETATTR = 4;
    static final int FUSE_READLINK = 5;
    static final int FUSE_SYMLINK = 6;
    static final int FUSE_MKNOD = 8;
    static final int FUSE_MKDIR = 9;
    static final int FUSE_UNLINK = 10;
    static final int FUSE_RMDIR = 11;
    static final int FUSE_RENAME = 12;
    static final int FUSE_LINK = 13;
    static final int FUSE_OPEN = 14;
    static final int FUSE_READ = 15;
    static final int FUSE_WRITE = 16;
    static final int FUSE_STATFS = 17;
    static final int FUSE_RELEASE = 18;
    static final int FUSE_FSYNC = 20;
    static final int FUSE_SETXATTR = 21;
    static final int FUSE_GETXATTR = 22;
    static final int FUSE_LISTXATTR = 23;
    static final int FUSE_REMOVEXATTR = 24;
    static final int FUSE_FLUSH = 25;
    static final int FUSE_INIT = 26;
    static final int FUSE_OPENDIR = 27;
    static final int FUSE_READDIR = 28;
    static final int FUSE_RELEASEDIR = 29;
    static final int FUSE_FSYNCDIR = 30;
    static final int FUSE_GETLK = 31;
    static final int FUSE_SETLK = 32;
    static final int FUSE_SETLKW = 33;
    static final int FUSE_ACCESS = 34;
    static final int FUSE_CREATE = 35;
    static final int FUSE_INTERRUPT = 36;
    static final int FUSE_BMAP = 37;
    static final int FUSE_DESTROY = 38;
    static final int FUSE_IOCTL = 39;
    static final int FUSE_POLL = 40;
    static final int FUSE_BATCH_FORGET = 42;
    static final int FUSE_FALLOCATE = 43;
    static final int FUSE_READDIRPLUS = 44;
    static final int FUSE_RENAME2 = 45;
    static final int FUSE_LSEEK = 46;
    static final int FUSE_COPY_FILE_RANGE = 47;
    static final int FUSE_SETUPMAPPING = 48;
    static final int FUSE_REMOVEMAPPING = 49;
    static final int FUSE_SYNCFS = 50;
    static final int FUSE_TMPFILE = 51;

    // INIT flags
    static final int FUSE_ASYNC_READ = 1;
    static final int FUSE_POSIX_LOCKS = 1 << 1;
    static final int FUSE_ATOMIC_O_TRUNC = 1 << 3;
    static final int FUSE_EXPORT_SUPPORT = 1 << 4;
    static final int FUSE_BIG_WRITES = 1 << 5;
    static final int FUSE_DONT_MASK = 1 << 6;
    static final int FUSE_FLOCK_LOCKS = 1 << 10;
    static final int FUSE_AUTO_INVAL_DATA = 1 << 12;
    static final int FUSE_DO_READDIRPLUS = 1 << 13;
    static final int FUSE_READDIRPLUS_AUTO = 1 << 14;
    static final int FUSE_ASYNC_DIO = 1 << 15;
    static final int FUSE_WRITEBACK_CACHE = 1 << 16;
    static final int FUSE_PARALLEL_DIROPS = 1 << 18;
    static final int FUSE_HANDLE_KILLPRIV = 1 << 19;
    static final int FUSE_POSIX_ACL = 1 << 20;
    static final int FUSE_MAX_PAGES = 1 << 22;
    static final int FUSE_SUBMOUNTS = 1 << 27;
    static final int FUSE_HANDLE_KILLPRIV_V2 = 1 << 28;
    static final int FUSE_SETXATTR_EXT = 1 << 29;
    static final int FUSE_INIT_EXT = 1 << 30;

    // SETATTR valid bits
    static final int FATTR_MODE = 1;
    static final int FATTR_UID = 1 << 1;
    static final int FATTR_GID = 1 << 2;
    static final int FATTR_SIZE = 1 << 3;
    static final int FATTR_ATIME = 1 << 4;
    static final int FATTR_MTIME = 1 << 5;
    static final int FATTR_FH = 1 << 6;
    static final int FATTR_ATIME_NOW = 1 << 7;
    static final int FATTR_MTIME_NOW = 1 << 8;
    static final int FATTR_KILL_SUIDGID = 1 << 11;

    /** {@code fuse_write_in.write_flags}: the writer lacks CAP_FSETID, clear set-ID bits (HANDLE_KILLPRIV_V2). */
    static final int FUSE_WRITE_KILL_SUIDGID = 1 << 2;
    /** {@code fuse_open_in.open_flags}: an O_TRUNC open by a writer without CAP_FSETID (HANDLE_KILLPRIV_V2). */
    static final int FUSE_OPEN_KILL_SUIDGID = 1;

    // open reply flags
    static final int FOPEN_DIRECT_IO = 1;
    static final int FOPEN_KEEP_CACHE = 1 << 1;
    static final int FOPEN_CACHE_DIR = 1 << 3;
    /** Since 7.35: no FLUSH on close (without WRITEBACK_CACHE, nothing to flush). */
    static final int FOPEN_NOFLUSH = 1 << 5;

    static final int FUSE_FSYNC_FDATASYNC = 1;

    // struct sizes
    static final int IN_HEADER_SIZE = 40;
    static final int OUT_HEADER_SIZE = 16;
    static final int ATTR_SIZE = 88;
    static final int ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
    static final int ATTR_OUT_SIZE = 16 + ATTR_SIZE;
    static final int INIT_IN_SIZE = 16;
    static final int INIT_IN_EXT_SIZE = 64;
    static final int INIT_OUT_SIZE = 64;
    static final int FORGET_IN_SIZE = 8;
    static final int FORGET_ONE_SIZE = 16;
    static final int BATCH_FORGET_IN_SIZE = 8;
    static final int GETATTR_IN_SIZE = 16;
    static final int SETATTR_IN_SIZE = 88;
    static final int MKNOD_IN_SIZE = 16;
    static final int MKDIR_IN_SIZE = 8;
    static final int RENAME_IN_SIZE = 8;
    static final int RENAME2_IN_SIZE = 16;
    static final int LINK_IN_SIZE = 8;
    static final int OPEN_IN_SIZE = 8;
    static final int CREATE_IN_SIZE = 16;
    static final int OPEN_OUT_SIZE = 16;
    static final int RELEASE_IN_SIZE = 24;
    static final int FLUSH_IN_SIZE = 24;
    static final int READ_IN_SIZE = 40;
    static final int WRITE_IN_SIZE = 40;
    static final int WRITE_OUT_SIZE = 8;
    static final int STATFS_OUT_SIZE = 80;
    static final int FSYNC_IN_SIZE = 16;
    /** {@code FUSE_COMPAT_SETXATTR_IN_SIZE}: the size without FUSE_SETXATTR_EXT, which is not offered. */
    static final int SETXATTR_IN_SIZE = 8;
    static final int GETXATTR_IN_SIZE = 8;
    static final int GETXATTR_OUT_SIZE = 8;
    static final int ACCESS_IN_SIZE = 8;
    static final int INTERRUPT_IN_SIZE = 8;
    static final int FALLOCATE_IN_SIZE = 32;
    static final int LSEEK_IN_SIZE = 24;
    static final int LSEEK_OUT_SIZE = 8;
    static final int COPY_FILE_RANGE_IN_SIZE = 56;
    /** {@code offsetof(struct fuse_dirent, name)}. */
    static final int DIRENT_NAME_OFFSET = 24;
    /** {@code offsetof(struct fuse_direntplus, dirent.name)}. */
    static final int DIRENTPLUS_NAME_OFFSET = ENTRY_OUT_SIZE + DIRENT_NAME_OFFSET;

    /** Longest entry name ({@code NAME_MAX}). */
    static final int NAME_MAX = 255;
    /** Longest symlink target with its NUL ({@code PATH_MAX}). */
    static final int PATH_MAX = 4096;

    /** {@code FUSE_DIRENT_ALIGN}: records are padded to 8 bytes. */
    static int align8(int n) {
        return (n + 7) & ~7;
    }
}
