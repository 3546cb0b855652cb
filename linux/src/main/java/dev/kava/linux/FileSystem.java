package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Names and metadata relative to directory descriptors: {@code openat2(2)} and the other
 * {@code *at} calls, {@code stat(2)}, {@code statfs(2)}, ownership, modes and times.
 *
 * <h2>Names are bytes</h2>
 * Linux file names are byte strings that need not be UTF-8, so names go in and come out as
 * {@code byte[]} (without the terminating NUL; a NUL inside a name is refused). Callers that hand
 * out names from an untrusted source validate them first: these methods pass them to the kernel
 * as they are.
 *
 * <h2>Descriptors as file identities</h2>
 * A server that confines a client to a directory holds {@code O_PATH} descriptors as identities of
 * files and never resolves client paths. Several calls here act on "the file a descriptor refers
 * to" even when it is an {@code O_PATH} descriptor, on which the plain {@code f*} calls fail with
 * EBADF: {@link #chmod}, {@link #utimens}, {@link #truncate}, {@link #link}, {@link #reopen} and
 * {@link Xattrs} go through that descriptor's entry in {@code /proc/self/fd}. Such an entry is a
 * "magic link": following it jumps straight to the very object the descriptor holds, without any
 * lookup by name, and if that object is itself a symbolic link resolution stops there and does not
 * follow it further. So these calls can never be redirected by renames or by symlinks planted in
 * the directory tree. The {@code /proc/self/fd} directory is opened once and checked to be procfs
 * ({@link #PROC_SUPER_MAGIC}).
 *
 * <p>Every descriptor made here is close-on-exec.
 */
public final class FileSystem {
    /** {@code <fcntl.h>}: the current directory as a {@code dirfd}, and the {@code *at} flags. */
    public static final int AT_FDCWD = -100;
    public static final int AT_SYMLINK_NOFOLLOW = 0x100;
    public static final int AT_REMOVEDIR = 0x200;
    public static final int AT_SYMLINK_FOLLOW = 0x400;
    public static final int AT_EMPTY_PATH = 0x1000;

    /** {@code open(2)} flags that {@link OpenFlags} does not have. */
    public static final int O_DIRECT = 040000;
    public static final int O_DSYNC = 010000;
    public static final int O_SYNC = 04010000;
    public static final int O_NOATIME = 01000000;

    /** {@code openat2(2)} {@code resolve} flags ({@code <linux/openat2.h>}). */
    public static final long RESOLVE_NO_XDEV = 0x01;
    public static final long RESOLVE_NO_MAGICLINKS = 0x02;
    public static final long RESOLVE_NO_SYMLINKS = 0x04;
    public static final long RESOLVE_BENEATH = 0x08;
    public static final long RESOLVE_IN_ROOT = 0x10;

    /** File type bits of {@code st_mode} ({@code <sys/stat.h>}). */
    public static final int S_IFMT = 0170000;
    public static final int S_IFSOCK = 0140000;
    public static final int S_IFLNK = 0120000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFBLK = 060000;
    public static final int S_IFDIR = 040000;
    public static final int S_IFCHR = 020000;
    public static final int S_IFIFO = 010000;
    public static final int S_ISUID = 04000;
    public static final int S_ISGID = 02000;
    public static final int S_ISVTX = 01000;

    /** {@code utimensat(2)}: special {@code tv_nsec} values. */
    public static final long UTIME_NOW = (1L << 30) - 1;
    public static final long UTIME_OMIT = (1L << 30) - 2;

    /** {@code renameat2(2)} flags. */
    public static final int RENAME_NOREPLACE = 1;
    public static final int RENAME_EXCHANGE = 2;
    public static final int RENAME_WHITEOUT = 4;

    /** {@code statfs(2)} type of procfs ({@code <linux/magic.h>}). */
    public static final long PROC_SUPER_MAGIC = 0x9fa0;

    /** {@code syscall(2)} number of {@code openat2} on x86-64 (glibc has no wrapper). */
    private static final long SYS_openat2 = 437;
    /** Longest symlink target the kernel stores, with its NUL ({@code PATH_MAX}). */
    private static final int PATH_MAX = 4096;

    /** {@code long syscall(long number, ...)}, as {@code openat2(dirfd, path, how, size)}. */
    private static final Native.Lazy SYSCALL_OPENAT2 = Native.lazyErrnoCall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    /** {@code int openat(int dirfd, const char *path, int flags, ... mode_t mode)} */
    private static final Native.Lazy OPENAT = Native.lazyErrnoCall("openat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(3));
    /** {@code int fstatat(int dirfd, const char *path, struct stat *buf, int flags)} */
    private static final Native.Lazy FSTATAT = Native.lazyErrnoCall("fstatat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    /** {@code int fstatfs(int fd, struct statfs *buf)} */
    private static final Native.Lazy FSTATFS = Native.lazyErrnoCall("fstatfs",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    /** {@code int mkdirat(int dirfd, const char *path, mode_t mode)} */
    private static final Native.Lazy MKDIRAT = Native.lazyErrnoCall("mkdirat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)} */
    private static final Native.Lazy MKNODAT = Native.lazyErrnoCall("mknodat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    /** {@code int symlinkat(const char *target, int newdirfd, const char *linkpath)} */
    private static final Native.Lazy SYMLINKAT = Native.lazyErrnoCall("symlinkat",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    /** {@code ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)} */
    private static final Native.Lazy READLINKAT = Native.lazyErrnoCall("readlinkat",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    /** {@code int unlinkat(int dirfd, const char *path, int flags)} */
    private static final Native.Lazy UNLINKAT = Native.lazyErrnoCall("unlinkat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags)} */
    private static final Native.Lazy RENAMEAT2 = Native.lazyErrnoCall("renameat2",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)} */
    private static final Native.Lazy LINKAT = Native.lazyErrnoCall("linkat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code int fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags)} */
    private static final Native.Lazy FCHOWNAT = Native.lazyErrnoCall("fchownat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT));
    /** {@code int fchmodat(int dirfd, const char *path, mode_t mode, int flags)} */
    private static final Native.Lazy FCHMODAT = Native.lazyErrnoCall("fchmodat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    /** {@code int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags)} */
    private static final Native.Lazy UTIMENSAT = Native.lazyErrnoCall("utimensat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    /** {@code int truncate(const char *path, off_t length)} */
    private static final Native.Lazy TRUNCATE = Native.lazyErrnoCall("truncate",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));

    private static final Object PROC_LOCK = new Object();
    private static volatile Fd procSelfFd;

    private FileSystem() {}

    /**
     * Opens {@code name} relative to {@code dir}, {@code openat2(2)}, with {@code resolve} flags
     * such as {@link #RESOLVE_BENEATH} that the kernel enforces during the whole lookup.
     * {@link OpenFlags#O_CLOEXEC} is always added. With {@code O_PATH | O_NOFOLLOW} and a trailing
     * symlink, the result refers to the symlink itself (even under {@link #RESOLVE_NO_SYMLINKS}).
     */
    public static Fd openat2(Fd dir, byte[] name, int flags, int mode, long resolve) {
        int d = dir.acquire("openat2");
        try {
            long r = FsCalls.run("openat2", (st, arena) -> {
                MemorySegment how = arena.allocate(FsStructs.OPEN_HOW);
                how.set(JAVA_LONG, Structs.offset(FsStructs.OPEN_HOW, "flags"),
                        Integer.toUnsignedLong(flags | OpenFlags.O_CLOEXEC));
                how.set(JAVA_LONG, Structs.offset(FsStructs.OPEN_HOW, "mode"), Integer.toUnsignedLong(mode));
                how.set(JAVA_LONG, Structs.offset(FsStructs.OPEN_HOW, "resolve"), resolve);
                return (long) SYSCALL_OPENAT2.handle().invokeExact(st, SYS_openat2, (long) d,
                        FsCalls.cName(arena, name), how, FsStructs.OPEN_HOW.byteSize());
            });
            return Fd.adopt((int) r);
        } finally {
            dir.release();
        }
    }

    /**
     * A new descriptor for the object {@code fd} refers to, opened with {@code flags}
     * ({@code O_RDONLY}, {@code O_RDWR}, {@code O_DIRECTORY}, ...): {@code openat(2)} of
     * {@code /proc/self/fd/N}. This is how an {@code O_PATH} identity becomes a descriptor that can
     * be read or written, with no lookup by name (see the class doc). {@code O_NOFOLLOW} and
     * {@code O_CREAT} are dropped, {@code O_CLOEXEC} added. The caller decides whether opening
     * is safe for the object's type: opening a device node opens the device, a FIFO may block.
     */
    public static Fd reopen(Fd fd, int flags) {
        Fd proc = procSelfFd();
        int f = (flags & ~(OpenFlags.O_NOFOLLOW | OpenFlags.O_CREAT | OpenFlags.O_EXCL)) | OpenFlags.O_CLOEXEC;
        int n = fd.acquire("reopen");
        int p = proc.acquire("reopen");
        try {
            return Fd.adopt((int) FsCalls.run("reopen", (st, arena) ->
                    (int) OPENAT.handle().invokeExact(st, p, arena.allocateFrom(Integer.toString(n)), f, 0)));
        } finally {
            proc.release();
            fd.release();
        }
    }

    /**
     * Stats the object {@code fd} refers to, never following a symlink: {@code fstatat(2)} with
     * {@code AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW}; works on {@code O_PATH} descriptors.
     */
    public static FileStat stat(Fd fd) {
        int n = fd.acquire("stat");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(FsStructs.STAT);
            FsCalls.run("fstatat", (st, a) ->
                    (int) FSTATAT.handle().invokeExact(st, n, FsCalls.empty(a), buf,
                            AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
            return FileStat.read(buf);
        } finally {
            fd.release();
        }
    }

    /** Stats {@code name} in {@code dir} without following a trailing symlink, {@code fstatat(2)}. */
    public static FileStat statAt(Fd dir, byte[] name) {
        int d = dir.acquire("statAt");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(FsStructs.STAT);
            FsCalls.run("fstatat", (st, a) ->
                    (int) FSTATAT.handle().invokeExact(st, d, FsCalls.cName(a, name), buf, AT_SYMLINK_NOFOLLOW));
            return FileStat.read(buf);
        } finally {
            dir.release();
        }
    }

    /** The file system holding the object {@code fd} refers to, {@code fstatfs(2)} (O_PATH works). */
    public static FsStats statfs(Fd fd) {
        int n = fd.acquire("statfs");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(FsStructs.STATFS);
            FsCalls.run("fstatfs", (st, a) -> (int) FSTATFS.handle().invokeExact(st, n, buf));
            return FsStats.read(buf);
        } finally {
            fd.release();
        }
    }

    /** Makes a directory, {@code mkdirat(2)}; the process umask applies to {@code mode}. */
    public static void mkdirat(Fd dir, byte[] name, int mode) {
        int d = dir.acquire("mkdirat");
        try {
            FsCalls.run("mkdirat", (st, a) -> (int) MKDIRAT.handle().invokeExact(st, d, FsCalls.cName(a, name), mode));
        } finally {
            dir.release();
        }
    }

    /**
     * Makes a file system node, {@code mknodat(2)}: {@code mode} holds the type ({@link #S_IFREG},
     * {@link #S_IFIFO}, {@link #S_IFSOCK}, {@link #S_IFCHR}, {@link #S_IFBLK}); {@code dev} is a
     * glibc {@code dev_t} ({@link FileStat#makedev}). The process umask applies.
     */
    public static void mknodat(Fd dir, byte[] name, int mode, long dev) {
        int d = dir.acquire("mknodat");
        try {
            FsCalls.run("mknodat", (st, a) ->
                    (int) MKNODAT.handle().invokeExact(st, d, FsCalls.cName(a, name), mode, dev));
        } finally {
            dir.release();
        }
    }

    /** Makes a symbolic link {@code name} in {@code dir} holding {@code target} as text, {@code symlinkat(2)}. */
    public static void symlinkat(byte[] target, Fd dir, byte[] name) {
        int d = dir.acquire("symlinkat");
        try {
            FsCalls.run("symlinkat", (st, a) ->
                    (int) SYMLINKAT.handle().invokeExact(st, FsCalls.cName(a, target), d, FsCalls.cName(a, name)));
        } finally {
            dir.release();
        }
    }

    /** The target text of the symlink {@code fd} refers to, {@code readlinkat(2)} with an empty path (O_PATH works). */
    public static byte[] readlink(Fd fd) {
        int n = fd.acquire("readlink");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(PATH_MAX);
            long len = FsCalls.run("readlinkat", (st, a) ->
                    (long) READLINKAT.handle().invokeExact(st, n, FsCalls.empty(a), buf, (long) PATH_MAX));
            return buf.asSlice(0, len).toArray(JAVA_BYTE);
        } finally {
            fd.release();
        }
    }

    /** Removes a name, {@code unlinkat(2)}; {@link #AT_REMOVEDIR} removes an empty directory. */
    public static void unlinkat(Fd dir, byte[] name, int flags) {
        int d = dir.acquire("unlinkat");
        try {
            FsCalls.run("unlinkat", (st, a) -> (int) UNLINKAT.handle().invokeExact(st, d, FsCalls.cName(a, name), flags));
        } finally {
            dir.release();
        }
    }

    /** Renames, {@code renameat2(2)}, with {@link #RENAME_NOREPLACE} / {@link #RENAME_EXCHANGE} / {@link #RENAME_WHITEOUT}. */
    public static void renameat2(Fd oldDir, byte[] oldName, Fd newDir, byte[] newName, int flags) {
        int o = oldDir.acquire("renameat2");
        try {
            int n = newDir.acquire("renameat2");
            try {
                FsCalls.run("renameat2", (st, a) -> (int) RENAMEAT2.handle().invokeExact(st, o, FsCalls.cName(a, oldName),
                        n, FsCalls.cName(a, newName), flags));
            } finally {
                newDir.release();
            }
        } finally {
            oldDir.release();
        }
    }

    /**
     * Gives the object {@code target} refers to a new name in {@code newDir}, {@code linkat(2)}
     * through {@code /proc/self/fd/N} with {@code AT_SYMLINK_FOLLOW}: the new link is to exactly
     * that object (a symlink itself, if it is one), needing no CAP_DAC_READ_SEARCH.
     */
    public static void link(Fd target, Fd newDir, byte[] newName) {
        Fd proc = procSelfFd();
        int t = target.acquire("link");
        try {
            int p = proc.acquire("link");
            int d = newDir.acquire("link");
            try {
                FsCalls.run("linkat", (st, a) -> (int) LINKAT.handle().invokeExact(st, p,
                        a.allocateFrom(Integer.toString(t)), d, FsCalls.cName(a, newName), AT_SYMLINK_FOLLOW));
            } finally {
                newDir.release();
                proc.release();
            }
        } finally {
            target.release();
        }
    }

    /**
     * Changes owner and group of the object {@code fd} refers to, never a symlink's target:
     * {@code fchownat(2)} with {@code AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW}; -1 leaves one unchanged.
     * Like {@code chown(2)}, this clears set-user-ID and set-group-ID bits of non-directories.
     */
    public static void chown(Fd fd, int uid, int gid) {
        int n = fd.acquire("chown");
        try {
            FsCalls.run("fchownat", (st, a) -> (int) FCHOWNAT.handle().invokeExact(st, n, FsCalls.empty(a), uid, gid,
                    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
        } finally {
            fd.release();
        }
    }

    /**
     * Changes the mode bits of the object {@code fd} refers to, {@code fchmodat(2)} through
     * {@code /proc/self/fd/N} (works for O_PATH). Callers must not use it on symlinks, whose mode
     * Linux does not support changing.
     */
    public static void chmod(Fd fd, int mode) {
        viaProc(fd, "chmod", (st, a, p, name) -> (int) FCHMODAT.handle().invokeExact(st, p, name, mode, 0));
    }

    /**
     * Sets access and modification times of the object {@code fd} refers to, {@code utimensat(2)}
     * through {@code /proc/self/fd/N} (a symlink's own times if it is one). Nanoseconds may be
     * {@link #UTIME_NOW} or {@link #UTIME_OMIT}.
     */
    public static void utimens(Fd fd, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec) {
        viaProc(fd, "utimens", (st, a, p, name) -> {
            MemorySegment ts = a.allocate(Structs.TIMESPEC, 2);
            long size = Structs.TIMESPEC.byteSize();
            long sec = Structs.offset(Structs.TIMESPEC, "tv_sec");
            long nsec = Structs.offset(Structs.TIMESPEC, "tv_nsec");
            ts.set(JAVA_LONG, sec, atimeSec);
            ts.set(JAVA_LONG, nsec, atimeNsec);
            ts.set(JAVA_LONG, size + sec, mtimeSec);
            ts.set(JAVA_LONG, size + nsec, mtimeNsec);
            return (int) UTIMENSAT.handle().invokeExact(st, p, name, ts, 0);
        });
    }

    /**
     * Sets the length of the regular file {@code fd} refers to, {@code truncate(2)} of
     * {@code /proc/self/fd/N} (works for O_PATH).
     */
    public static void truncate(Fd fd, long length) {
        int n = fd.acquire("truncate");
        try {
            procSelfFd();
            FsCalls.run("truncate", (st, a) ->
                    (int) TRUNCATE.handle().invokeExact(st, a.allocateFrom(procPath(n)), length));
        } finally {
            fd.release();
        }
    }

    /** A call on {@code /proc/self/fd/N}, given as the verified proc fd and the name "N". */
    @FunctionalInterface
    private interface ProcCall {
        long invoke(MemorySegment errnoState, Arena arena, int procFd, MemorySegment name) throws Throwable;
    }

    private static void viaProc(Fd fd, String what, ProcCall call) {
        Fd proc = procSelfFd();
        int n = fd.acquire(what);
        try {
            int p = proc.acquire(what);
            try {
                FsCalls.run(what, (st, a) -> call.invoke(st, a, p, a.allocateFrom(Integer.toString(n))));
            } finally {
                proc.release();
            }
        } finally {
            fd.release();
        }
    }

    /** {@code "/proc/self/fd/N"} as a string, for the calls that take only a path. */
    static String procPath(int fd) {
        return "/proc/self/fd/" + fd;
    }

    /**
     * {@code /proc/self/fd} as an {@code O_PATH} directory, opened on first use and checked to be
     * procfs: a different file system mounted there could otherwise redirect the magic links.
     */
    static Fd procSelfFd() {
        Fd p = procSelfFd;
        if (p != null) {
            return p;
        }
        synchronized (PROC_LOCK) {
            if (procSelfFd == null) {
                Fd fd = Fd.open("/proc/self/fd", OpenFlags.O_PATH | OpenFlags.O_DIRECTORY | OpenFlags.O_CLOEXEC, 0);
                long type = statfs(fd).type();
                if (type != PROC_SUPER_MAGIC) {
                    fd.close();
                    throw new LinuxException("/proc/self/fd is not procfs (f_type 0x" + Long.toHexString(type) + ")");
                }
                procSelfFd = fd;
            }
            return procSelfFd;
        }
    }

    /** {@code name} as UTF-8 bytes, for callers whose names are Java strings. */
    public static byte[] name(String name) {
        return name.getBytes(StandardCharsets.UTF_8);
    }

    /** Whether {@code name} is one directory entry name: not empty, no '/', no NUL, not "." or "..". */
    public static boolean isSingleComponent(byte[] name) {
        if (name.length == 0 || Arrays.equals(name, DOT) || Arrays.equals(name, DOTDOT)) {
            return false;
        }
        for (byte b : name) {
            if (b == '/' || b == 0) {
                return false;
            }
        }
        return true;
    }

    private static final byte[] DOT = {'.'};
    private static final byte[] DOTDOT = {'.', '.'};
}
