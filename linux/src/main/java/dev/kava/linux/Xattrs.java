package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;

/**
 * Extended attributes ({@code xattr(7)}) of the object a descriptor refers to, including
 * {@code O_PATH} descriptors, symlinks and special files: {@code getxattr(2)} and friends on
 * {@code /proc/self/fd/N}. That magic link names exactly the object the descriptor holds and, if
 * the object is a symlink, resolution stops at the symlink itself: so the call never reaches a
 * symlink's target (see {@link FileSystem}). Names are bytes ({@code "user.foo"} etc.).
 *
 * <p>A {@code dst} of {@link MemorySegment#NULL} asks only for the size, as {@code size == 0} does
 * in C. Errors are those of the calls: ENODATA (no such attribute), ERANGE (buffer too small, or a
 * name longer than {@link #XATTR_NAME_MAX}), E2BIG (value longer than {@link #XATTR_SIZE_MAX}),
 * EOPNOTSUPP / EPERM (the file system or the object type does not take such attributes).
 */
public final class Xattrs {
    /** {@code setxattr(2)} flags. */
    public static final int XATTR_CREATE = 1;
    public static final int XATTR_REPLACE = 2;
    /** {@code <linux/limits.h>}: longest name, longest value, longest name list. */
    public static final int XATTR_NAME_MAX = 255;
    public static final int XATTR_SIZE_MAX = 65536;
    public static final int XATTR_LIST_MAX = 65536;

    /** {@code ssize_t getxattr(const char *path, const char *name, void *value, size_t size)} */
    private static final Native.Lazy GETXATTR = Native.lazyErrnoCall("getxattr",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    /** {@code ssize_t listxattr(const char *path, char *list, size_t size)} */
    private static final Native.Lazy LISTXATTR = Native.lazyErrnoCall("listxattr",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
    /** {@code int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)} */
    private static final Native.Lazy SETXATTR = Native.lazyErrnoCall("setxattr",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
    /** {@code int removexattr(const char *path, const char *name)} */
    private static final Native.Lazy REMOVEXATTR = Native.lazyErrnoCall("removexattr",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));

    private Xattrs() {}

    /**
     * Reads attribute {@code name} into native {@code dst} and returns its length; with
     * {@link MemorySegment#NULL}, returns the length only.
     */
    public static int get(Fd fd, byte[] name, MemorySegment dst) {
        checkNative(dst);
        int n = fd.acquire("getxattr");
        try {
            FileSystem.procSelfFd();
            return (int) FsCalls.run("getxattr", (st, a) -> (long) GETXATTR.handle().invokeExact(st,
                    a.allocateFrom(FileSystem.procPath(n)), FsCalls.cName(a, name), dst, dst.byteSize()));
        } finally {
            fd.release();
        }
    }

    /**
     * Writes the NUL-separated attribute names into native {@code dst} and returns their total
     * length; with {@link MemorySegment#NULL}, returns the length only.
     */
    public static int list(Fd fd, MemorySegment dst) {
        checkNative(dst);
        int n = fd.acquire("listxattr");
        try {
            FileSystem.procSelfFd();
            return (int) FsCalls.run("listxattr", (st, a) -> (long) LISTXATTR.handle().invokeExact(st,
                    a.allocateFrom(FileSystem.procPath(n)), dst, dst.byteSize()));
        } finally {
            fd.release();
        }
    }

    /** Sets attribute {@code name} to the bytes of native {@code value}; flags {@link #XATTR_CREATE} / {@link #XATTR_REPLACE}. */
    public static void set(Fd fd, byte[] name, MemorySegment value, int flags) {
        checkNative(value);
        int n = fd.acquire("setxattr");
        try {
            FileSystem.procSelfFd();
            FsCalls.run("setxattr", (st, a) -> (int) SETXATTR.handle().invokeExact(st,
                    a.allocateFrom(FileSystem.procPath(n)), FsCalls.cName(a, name), value, value.byteSize(), flags));
        } finally {
            fd.release();
        }
    }

    /** Removes attribute {@code name}. */
    public static void remove(Fd fd, byte[] name) {
        int n = fd.acquire("removexattr");
        try {
            FileSystem.procSelfFd();
            FsCalls.run("removexattr", (st, a) -> (int) REMOVEXATTR.handle().invokeExact(st,
                    a.allocateFrom(FileSystem.procPath(n)), FsCalls.cName(a, name)));
        } finally {
            fd.release();
        }
    }

    private static void checkNative(MemorySegment s) {
        if (!s.isNative()) {
            throw new IllegalArgumentException("xattr buffers must be native segments");
        }
    }
}
