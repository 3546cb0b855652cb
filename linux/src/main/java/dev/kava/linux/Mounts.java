package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Mounting and unmounting, {@code mount(2)} and {@code umount2(2)}, and reading the mount table. */
public final class Mounts {
    public static final long MS_RDONLY = 1;
    public static final long MS_NOSUID = 2;
    public static final long MS_NODEV = 4;
    public static final long MS_NOEXEC = 8;
    public static final long MS_SYNCHRONOUS = 16;
    public static final long MS_REMOUNT = 32;
    public static final long MS_DIRSYNC = 128;
    public static final long MS_NOATIME = 1024;
    public static final long MS_NODIRATIME = 2048;
    public static final long MS_BIND = 4096;
    public static final long MS_MOVE = 8192;
    public static final long MS_REC = 16384;
    public static final long MS_SILENT = 32768;
    public static final long MS_UNBINDABLE = 1 << 17;
    public static final long MS_PRIVATE = 1 << 18;
    public static final long MS_SLAVE = 1 << 19;
    public static final long MS_SHARED = 1 << 20;
    public static final long MS_RELATIME = 1 << 21;
    public static final long MS_STRICTATIME = 1 << 24;

    /** {@code umount2(2)} flags. */
    public static final int MNT_FORCE = 1;
    public static final int MNT_DETACH = 2;
    public static final int MNT_EXPIRE = 4;
    public static final int UMOUNT_NOFOLLOW = 8;

    /** {@code int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)} */
    private static final Native.Lazy MOUNT = Native.lazyErrnoCall("mount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    /** {@code int umount2(const char *target, int flags)} */
    private static final Native.Lazy UMOUNT2 = Native.lazyErrnoCall("umount2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    private Mounts() {}

    /**
     * Mounts a filesystem, {@code mount(2)}. {@code source}, {@code fstype} and {@code data} may be
     * null (as for a bind mount, a remount or a propagation change).
     */
    public static void mount(String source, String target, String fstype, long flags, String data) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            int r = (int) MOUNT.handle().invokeExact(st, Native.cString(arena, source), arena.allocateFrom(target),
                    Native.cString(arena, fstype), flags, Native.cString(arena, data));
            Native.check(r, st, "mount(" + source + ", " + target + ", " + fstype + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Unmounts, {@code umount2(2)}; {@code flags} from {@link #MNT_DETACH} and friends. */
    public static void umount(String target, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) UMOUNT2.handle().invokeExact(st, arena.allocateFrom(target), flags), st, "umount2(" + target + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Detaches whatever is mounted on {@code target} ({@code umount2(MNT_DETACH)}): returns true if
     * something was, false if {@code target} is not a mount point (EINVAL) or does not exist (ENOENT).
     * Any other failure (EPERM, EBUSY...) is thrown.
     */
    public static boolean detach(String target) {
        try {
            umount(target, MNT_DETACH);
            return true;
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EINVAL || e.errno() == Errno.ENOENT) {
                return false;
            }
            throw e;
        }
    }

    /** This process's mount table, parsed from {@code /proc/self/mountinfo}, in file order. */
    public static List<MountInfo> mountInfo() {
        List<String> lines;
        try {
            // decode leniently: mount points are bytes, not necessarily valid UTF-8
            lines = new String(Files.readAllBytes(MOUNTINFO), StandardCharsets.UTF_8).lines().toList();
        } catch (IOException e) {
            throw new LinuxException("cannot read " + MOUNTINFO + ": " + e.getMessage(), e);
        }
        List<MountInfo> mounts = new ArrayList<>(lines.size());
        for (String line : lines) {
            if (!line.isBlank()) {
                mounts.add(parseLine(line));
            }
        }
        return mounts;
    }

    /** Parses one mountinfo line: {@code id parent maj:min root point options [optional...] - type source super}. */
    static MountInfo parseLine(String line) {
        String[] f = line.split(" ");
        int dash = Arrays.asList(f).indexOf("-");
        if (dash < 6 || dash + 2 >= f.length) {
            throw new LinuxException("unparsable mountinfo line: " + line);
        }
        String superOptions = dash + 3 < f.length ? f[dash + 3] : "";
        try {
            return new MountInfo(Integer.parseInt(f[0]), Integer.parseInt(f[1]), unescape(f[3]), unescape(f[4]),
                    f[5], unescape(f[dash + 1]), unescape(f[dash + 2]), unescape(superOptions));
        } catch (NumberFormatException e) {
            throw new LinuxException("unparsable mountinfo line: " + line, e);
        }
    }

    /** Decodes the {@code \ooo} octal escapes the kernel writes for space, tab, newline and backslash. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && isOctal(s, i + 1, 3)) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static boolean isOctal(String s, int from, int n) {
        if (from + n > s.length()) {
            return false;
        }
        for (int i = from; i < from + n; i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '7') {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether {@code path} (symbolic links resolved) is the mount point of some mount in
     * {@link #mountInfo()}; false when it does not exist.
     */
    public static boolean isMountPoint(String path) {
        String real;
        try {
            real = Path.of(path).toRealPath().toString();
        } catch (IOException e) {
            return false;
        }
        for (MountInfo m : mountInfo()) {
            if (m.mountPoint().equals(real)) {
                return true;
            }
        }
        return false;
    }
}
