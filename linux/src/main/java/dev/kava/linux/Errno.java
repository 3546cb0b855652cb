package dev.kava.linux;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.HashMap;
import java.util.Map;

/**
 * errno values of Linux on x86-64 ({@code errno(3)}), their names and their {@code strerror(3)}
 * texts. Common values come from a table here (checked against libc by a test); others are asked
 * from glibc's {@code strerrorname_np(3)} / {@code strerrordesc_np(3)} when it has them.
 */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int E2BIG = 7;
    public static final int ENOEXEC = 8;
    public static final int EBADF = 9;
    public static final int ECHILD = 10;
    public static final int EAGAIN = 11;
    public static final int EWOULDBLOCK = EAGAIN;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int EXDEV = 18;
    public static final int ENODEV = 19;
    public static final int ENOTDIR = 20;
    public static final int EISDIR = 21;
    public static final int EINVAL = 22;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int ENOTTY = 25;
    public static final int ETXTBSY = 26;
    public static final int EFBIG = 27;
    public static final int ENOSPC = 28;
    public static final int ESPIPE = 29;
    public static final int EROFS = 30;
    public static final int EMLINK = 31;
    public static final int EPIPE = 32;
    public static final int ERANGE = 34;
    public static final int EDEADLK = 35;
    public static final int ENAMETOOLONG = 36;
    public static final int ENOSYS = 38;
    public static final int ENOTEMPTY = 39;
    public static final int ELOOP = 40;
    public static final int ENODATA = 61;
    public static final int EPROTO = 71;
    public static final int ENOTSOCK = 88;
    public static final int EMSGSIZE = 90;
    public static final int EOPNOTSUPP = 95;
    public static final int EAFNOSUPPORT = 97;
    public static final int EADDRINUSE = 98;
    public static final int EADDRNOTAVAIL = 99;
    public static final int ENETUNREACH = 101;
    public static final int ECONNABORTED = 103;
    public static final int ECONNRESET = 104;
    public static final int ENOBUFS = 105;
    public static final int EISCONN = 106;
    public static final int ENOTCONN = 107;
    public static final int ETIMEDOUT = 110;
    public static final int ECONNREFUSED = 111;
    public static final int EHOSTUNREACH = 113;
    public static final int EALREADY = 114;
    public static final int EINPROGRESS = 115;
    public static final int ECANCELED = 125;

    private record Entry(String name, String text) {}

    private static final Map<Integer, Entry> TABLE = new HashMap<>();

    private static void e(int errno, String name, String text) {
        TABLE.put(errno, new Entry(name, text));
    }

    static {
        e(EPERM, "EPERM", "Operation not permitted");
        e(ENOENT, "ENOENT", "No such file or directory");
        e(ESRCH, "ESRCH", "No such process");
        e(EINTR, "EINTR", "Interrupted system call");
        e(EIO, "EIO", "Input/output error");
        e(ENXIO, "ENXIO", "No such device or address");
        e(E2BIG, "E2BIG", "Argument list too long");
        e(ENOEXEC, "ENOEXEC", "Exec format error");
        e(EBADF, "EBADF", "Bad file descriptor");
        e(ECHILD, "ECHILD", "No child processes");
        e(EAGAIN, "EAGAIN", "Resource temporarily unavailable");
        e(ENOMEM, "ENOMEM", "Cannot allocate memory");
        e(EACCES, "EACCES", "Permission denied");
        e(EFAULT, "EFAULT", "Bad address");
        e(EBUSY, "EBUSY", "Device or resource busy");
        e(EEXIST, "EEXIST", "File exists");
        e(EXDEV, "EXDEV", "Invalid cross-device link");
        e(ENODEV, "ENODEV", "No such device");
        e(ENOTDIR, "ENOTDIR", "Not a directory");
        e(EISDIR, "EISDIR", "Is a directory");
        e(EINVAL, "EINVAL", "Invalid argument");
        e(ENFILE, "ENFILE", "Too many open files in system");
        e(EMFILE, "EMFILE", "Too many open files");
        e(ENOTTY, "ENOTTY", "Inappropriate ioctl for device");
        e(ETXTBSY, "ETXTBSY", "Text file busy");
        e(EFBIG, "EFBIG", "File too large");
        e(ENOSPC, "ENOSPC", "No space left on device");
        e(ESPIPE, "ESPIPE", "Illegal seek");
        e(EROFS, "EROFS", "Read-only file system");
        e(EMLINK, "EMLINK", "Too many links");
        e(EPIPE, "EPIPE", "Broken pipe");
        e(ERANGE, "ERANGE", "Numerical result out of range");
        e(EDEADLK, "EDEADLK", "Resource deadlock avoided");
        e(ENAMETOOLONG, "ENAMETOOLONG", "File name too long");
        e(ENOSYS, "ENOSYS", "Function not implemented");
        e(ENOTEMPTY, "ENOTEMPTY", "Directory not empty");
        e(ELOOP, "ELOOP", "Too many levels of symbolic links");
        e(ENODATA, "ENODATA", "No data available");
        e(EPROTO, "EPROTO", "Protocol error");
        e(ENOTSOCK, "ENOTSOCK", "Socket operation on non-socket");
        e(EMSGSIZE, "EMSGSIZE", "Message too long");
        e(EOPNOTSUPP, "EOPNOTSUPP", "Operation not supported");
        e(EAFNOSUPPORT, "EAFNOSUPPORT", "Address family not supported by protocol");
        e(EADDRINUSE, "EADDRINUSE", "Address already in use");
        e(EADDRNOTAVAIL, "EADDRNOTAVAIL", "Cannot assign requested address");
        e(ENETUNREACH, "ENETUNREACH", "Network is unreachable");
        e(ECONNABORTED, "ECONNABORTED", "Software caused connection abort");
        e(ECONNRESET, "ECONNRESET", "Connection reset by peer");
        e(ENOBUFS, "ENOBUFS", "No buffer space available");
        e(EISCONN, "EISCONN", "Transport endpoint is already connected");
        e(ENOTCONN, "ENOTCONN", "Transport endpoint is not connected");
        e(ETIMEDOUT, "ETIMEDOUT", "Connection timed out");
        e(ECONNREFUSED, "ECONNREFUSED", "Connection refused");
        e(EHOSTUNREACH, "EHOSTUNREACH", "No route to host");
        e(EALREADY, "EALREADY", "Operation already in progress");
        e(EINPROGRESS, "EINPROGRESS", "Operation now in progress");
        e(ECANCELED, "ECANCELED", "Operation canceled");
    }

    /** {@code const char *strerrorname_np(int)} (glibc 2.32+); null if this libc lacks it. */
    private static final MethodHandle STRERRORNAME_NP =
            Native.optional("strerrorname_np", Native.ADDRESS_OF_INT);
    /** {@code const char *strerrordesc_np(int)} (glibc 2.32+); null if this libc lacks it. */
    private static final MethodHandle STRERRORDESC_NP =
            Native.optional("strerrordesc_np", Native.ADDRESS_OF_INT);

    private Errno() {}

    /** The symbolic name of an errno, e.g. {@code "ENOENT"}; {@code "errno N"} if unknown. */
    public static String name(int errno) {
        Entry e = TABLE.get(errno);
        if (e != null) {
            return e.name();
        }
        String s = libcName(errno);
        return s != null ? s : "errno " + errno;
    }

    /** The {@code strerror(3)} text of an errno, e.g. {@code "No such file or directory"}. */
    public static String describe(int errno) {
        Entry e = TABLE.get(errno);
        if (e != null) {
            return e.text();
        }
        String s = libcDescription(errno);
        return s != null ? s : "Unknown error " + errno;
    }

    /** The values in the built-in table (for tests). */
    static Iterable<Integer> tabled() {
        return TABLE.keySet();
    }

    /** glibc's {@code strerrorname_np(3)}, or null. */
    static String libcName(int errno) {
        return callString(STRERRORNAME_NP, errno);
    }

    /** glibc's {@code strerrordesc_np(3)}, or null. */
    static String libcDescription(int errno) {
        return callString(STRERRORDESC_NP, errno);
    }

    @SuppressWarnings("restricted")
    private static String callString(MethodHandle h, int errno) {
        if (h == null) {
            return null;
        }
        try {
            MemorySegment p = (MemorySegment) h.invokeExact(errno);
            // SAFETY: both functions return NULL or a pointer to a static, NUL-terminated string
            // that lives as long as libc; we read up to its NUL and copy it.
            return p.equals(MemorySegment.NULL) ? null : p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
