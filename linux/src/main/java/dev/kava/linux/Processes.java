package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The calling process and its children: {@code getpid(2)}, {@code prctl(2)}, {@code waitpid(2)}, {@code kill(2)}. */
public final class Processes {
    /** {@code waitpid(2)}: return at once when no child changed state. */
    public static final int WNOHANG = 1;
    /** {@code waitpid(2)}: also report stopped children. */
    public static final int WUNTRACED = 2;
    /** {@code waitpid(2)}: also report continued children. */
    public static final int WCONTINUED = 8;
    /** {@code __WALL} of {@code waitpid(2)}: wait for all children, clone or not. */
    public static final int WALL = 0x40000000;
    /** {@code prctl(2)} option making this process the reaper of orphaned descendants. */
    public static final int PR_SET_CHILD_SUBREAPER = 36;
    /** {@code prctl(2)} option reading the subreaper flag. */
    public static final int PR_GET_CHILD_SUBREAPER = 37;

    /** {@code pid_t getpid(void)} */
    private static final Native.Lazy GETPID = Native.lazyPlainCall("getpid", FunctionDescriptor.of(JAVA_INT));
    /** {@code int prctl(int option, ... unsigned long arg2, arg3, arg4, arg5)} */
    private static final Native.Lazy PRCTL = Native.lazyErrnoCall("prctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    /** {@code pid_t waitpid(pid_t pid, int *wstatus, int options)} */
    private static final Native.Lazy WAITPID = Native.lazyErrnoCall("waitpid",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code int kill(pid_t pid, int sig)} */
    private static final Native.Lazy KILL = Native.lazyErrnoCall("kill",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    /** {@code int getrlimit(int resource, struct rlimit *rlim)} */
    private static final Native.Lazy GETRLIMIT = Native.lazyErrnoCall("getrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    /** {@code int setrlimit(int resource, const struct rlimit *rlim)} */
    private static final Native.Lazy SETRLIMIT = Native.lazyErrnoCall("setrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    /** {@code RLIMIT_NOFILE} of {@code getrlimit(2)}. */
    public static final int RLIMIT_NOFILE = 7;

    private Processes() {}

    /**
     * Raises this process's {@code RLIMIT_NOFILE} soft limit to at least {@code wanted} descriptors
     * where it can: up to the hard limit, and past it (raising the hard limit too) when the process
     * may ({@code CAP_SYS_RESOURCE}; the kernel caps it at {@code fs.nr_open}). Never lowers a limit.
     * Returns the soft limit in effect afterwards.
     */
    public static long raiseOpenFileLimit(long wanted) {
        try (Arena arena = Arena.ofConfined()) {
            // struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; }: two unsigned 64-bit values on x86-64
            MemorySegment rlim = arena.allocate(16, 8);
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) GETRLIMIT.handle().invokeExact(st, RLIMIT_NOFILE, rlim), st, "getrlimit(RLIMIT_NOFILE)");
            long cur = rlim.get(JAVA_LONG, 0);
            long max = rlim.get(JAVA_LONG, 8);
            if (Long.compareUnsigned(cur, wanted) >= 0) {
                return cur;
            }
            if (Long.compareUnsigned(max, wanted) < 0) {
                rlim.set(JAVA_LONG, 0, wanted);
                rlim.set(JAVA_LONG, 8, wanted);
                if ((int) SETRLIMIT.handle().invokeExact(st, RLIMIT_NOFILE, rlim) == 0) {
                    return wanted;
                }
                // EPERM (no CAP_SYS_RESOURCE) or EPERM above fs.nr_open: the hard limit is the most we get
            }
            long soft = Long.compareUnsigned(max, wanted) < 0 ? max : wanted;
            rlim.set(JAVA_LONG, 0, soft);
            rlim.set(JAVA_LONG, 8, max);
            Native.check((int) SETRLIMIT.handle().invokeExact(st, RLIMIT_NOFILE, rlim), st, "setrlimit(RLIMIT_NOFILE)");
            return soft;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** This process's id, {@code getpid(2)}. */
    public static int getpid() {
        try {
            return (int) GETPID.handle().invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Makes this process the reaper of its orphaned descendants, {@code prctl(2)}
     * PR_SET_CHILD_SUBREAPER: they are reparented to us, not to init, and we must {@link #waitpid}
     * them.
     */
    public static void setChildSubreaper() {
        prctl("prctl(PR_SET_CHILD_SUBREAPER)", PR_SET_CHILD_SUBREAPER, 1);
    }

    /** Whether this process is a child subreaper, {@code prctl(2)} PR_GET_CHILD_SUBREAPER. */
    public static boolean isChildSubreaper() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment flag = arena.allocate(JAVA_INT);
            // SAFETY: prctl takes the int * as an unsigned long; the segment outlives the call.
            prctl("prctl(PR_GET_CHILD_SUBREAPER)", PR_GET_CHILD_SUBREAPER, flag.address());
            return flag.get(JAVA_INT, 0) != 0;
        }
    }

    private static int prctl(String call, int option, long arg2) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            return Native.check((int) PRCTL.handle().invokeExact(st, option, arg2, 0L, 0L, 0L), st, call);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Waits for a child to change state, {@code waitpid(2)}; retries EINTR. {@code pid} -1 means any
     * child. Returns null when {@link #WNOHANG} is given and no child has changed state; throws
     * {@link ErrnoException} with ECHILD when there is no such child. Without WNOHANG this blocks:
     * call it from a platform thread.
     */
    public static WaitStatus waitpid(int pid, int options) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment status = arena.allocate(JAVA_INT);
            while (true) {
                int r = (int) WAITPID.handle().invokeExact(st, pid, status, options);
                if (r > 0) {
                    return new WaitStatus(r, status.get(JAVA_INT, 0));
                }
                if (r == 0) {
                    return null;
                }
                int errno = Native.errno(st);
                if (errno != Errno.EINTR) {
                    throw new ErrnoException("waitpid(" + pid + ")", errno);
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Sends a signal, {@code kill(2)}. See {@link Signals} for the numbers. */
    public static void kill(int pid, int signal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) KILL.handle().invokeExact(st, pid, signal), st, "kill(" + pid + ", " + Signals.name(signal) + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Our children that have exited and wait to be reaped: a scan of {@code /proc/[pid]/stat}
     * ({@code proc_pid_stat(5)}) for state 'Z' and parent pid = {@link #getpid()}. A snapshot:
     * processes may change while it is taken.
     */
    public static List<Integer> zombieChildren() {
        int self = getpid();
        List<Integer> zombies = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path dir : dirs) {
                String stat;
                try {
                    stat = Files.readString(dir.resolve("stat"));
                } catch (IOException gone) {
                    continue; // the process went away while we looked
                }
                // "pid (comm) S ppid ...": comm may hold spaces and ')', so parse after the last ')'.
                int close = stat.lastIndexOf(')');
                if (close < 0) {
                    continue;
                }
                String[] rest = stat.substring(close + 1).trim().split(" ");
                if (rest.length >= 2 && rest[0].equals("Z") && Integer.parseInt(rest[1]) == self) {
                    zombies.add(Integer.parseInt(dir.getFileName().toString()));
                }
            }
        } catch (IOException e) {
            throw new LinuxException("cannot scan /proc: " + e.getMessage(), e);
        }
        return zombies;
    }
}
