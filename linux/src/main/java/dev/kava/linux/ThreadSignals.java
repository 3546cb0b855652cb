package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;

/**
 * Signals aimed at one thread: how a VMM kicks a vCPU thread out of {@code KVM_RUN}.
 *
 * <p>The scheme (QEMU's and the kernel's own {@code KVM_SET_SIGNAL_MASK} design): the kick signal
 * is {@linkplain #block blocked} on the vCPU thread at all times, except inside {@code KVM_RUN},
 * whose signal mask (given with {@code KVM_SET_SIGNAL_MASK}) leaves it unblocked. A
 * {@link #tgkill} then either interrupts a running {@code KVM_RUN} (it returns EINTR) or stays
 * pending until the next one, which returns EINTR at once: a kick is never lost, and no handler
 * ever runs (no native code of ours executes in signal context). The thread takes the pending
 * signal off with {@link #takePending} before entering the guest again.
 *
 * <p>The disposition is set to "ignore" ({@link #ignore}) so that a stray process-directed copy
 * cannot terminate the JVM; the kernel does not discard an ignored signal while it is blocked
 * (or blocked outside {@code KVM_RUN}), so the scheme above still works.
 */
public final class ThreadSignals {
    /** {@code pthread_sigmask(3)} operations. */
    public static final int SIG_BLOCK = 0;
    public static final int SIG_UNBLOCK = 1;
    public static final int SIG_SETMASK = 2;
    /** Bytes of glibc's {@code sigset_t} (1024 bits). */
    static final long SIGSET_T_BYTES = 128;

    /** {@code pid_t gettid(void)} */
    private static final Native.Lazy GETTID = Native.lazyPlainCall("gettid", FunctionDescriptor.of(JAVA_INT));
    /** {@code int tgkill(pid_t tgid, pid_t tid, int sig)} */
    private static final Native.Lazy TGKILL = Native.lazyErrnoCall("tgkill",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    /** {@code int pthread_sigmask(int how, const sigset_t *set, sigset_t *oldset)}: returns the error, not -1. */
    private static final Native.Lazy PTHREAD_SIGMASK = Native.lazyPlainCall("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    /** {@code int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)} */
    private static final Native.Lazy SIGTIMEDWAIT = Native.lazyErrnoCall("sigtimedwait",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    /** {@code sighandler_t signal(int signum, sighandler_t handler)} */
    private static final Native.Lazy SIGNAL = Native.lazyErrnoCall("signal",
            FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS));
    /** {@code int __libc_current_sigrtmin(void)}: SIGRTMIN, which glibc computes at run time. */
    private static final Native.Lazy SIGRTMIN = Native.lazyPlainCall("__libc_current_sigrtmin",
            FunctionDescriptor.of(JAVA_INT));
    private static final MemorySegment SIG_IGN = MemorySegment.ofAddress(1);
    private static final MemorySegment SIG_ERR = MemorySegment.ofAddress(-1);

    private ThreadSignals() {}

    /** The calling thread's kernel id, {@code gettid(2)}. */
    public static int gettid() {
        try {
            return (int) GETTID.handle().invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** SIGRTMIN as glibc reserves it (34 on glibc: 32 and 33 are its own). */
    public static int sigrtmin() {
        try {
            return (int) SIGRTMIN.handle().invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Sets the process-wide disposition of {@code sig} to "ignore", {@code signal(2)} SIG_IGN. */
    public static void ignore(int sig) {
        checkSignal(sig);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment old = (MemorySegment) SIGNAL.handle().invokeExact(st, sig, SIG_IGN);
            if (old.equals(SIG_ERR)) {
                throw new ErrnoException("signal(" + sig + ", SIG_IGN)", Native.errno(st));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Blocks {@code sig} on the calling thread only, {@code pthread_sigmask(3)} SIG_BLOCK. */
    public static void block(int sig) {
        mask(SIG_BLOCK, sig);
    }

    /** Unblocks {@code sig} on the calling thread only, {@code pthread_sigmask(3)} SIG_UNBLOCK. */
    public static void unblock(int sig) {
        mask(SIG_UNBLOCK, sig);
    }

    /**
     * The calling thread's blocked signals as the kernel's 64-bit set (bit {@code n - 1} for signal
     * {@code n}): what {@code KVM_SET_SIGNAL_MASK} takes.
     */
    public static long blockedMask() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment old = arena.allocate(SIGSET_T_BYTES, 8);
            int r = (int) PTHREAD_SIGMASK.handle().invokeExact(SIG_BLOCK, MemorySegment.NULL, old);
            if (r != 0) {
                throw new ErrnoException("pthread_sigmask", r);
            }
            // SAFETY: glibc's sigset_t starts with the kernel's 64-bit mask on x86-64
            return old.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Sends {@code sig} to thread {@code tid} of this process, {@code tgkill(2)}. */
    public static void tgkill(int tid, int sig) {
        checkSignal(sig);
        int pid = Processes.getpid();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) TGKILL.handle().invokeExact(st, pid, tid, sig), st, "tgkill(" + pid + ", " + tid + ", " + sig + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Takes one pending instance of {@code sig} off the calling thread without waiting,
     * {@code sigtimedwait(2)} with a zero timeout; returns whether one was pending. {@code sig}
     * must be blocked on this thread (otherwise it would have been delivered already).
     */
    public static boolean takePending(int sig) {
        checkSignal(sig);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment set = sigset(arena, sig);
            MemorySegment zero = arena.allocate(Structs.TIMESPEC); // {0, 0}: poll
            while (true) {
                int r = (int) SIGTIMEDWAIT.handle().invokeExact(st, set, MemorySegment.NULL, zero);
                if (r == sig) {
                    return true;
                }
                int errno = Native.errno(st);
                if (errno == Errno.EAGAIN) {
                    return false;
                }
                if (errno != Errno.EINTR) {
                    throw new ErrnoException("sigtimedwait(" + sig + ")", errno);
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private static void mask(int how, int sig) {
        checkSignal(sig);
        try (Arena arena = Arena.ofConfined()) {
            int r = (int) PTHREAD_SIGMASK.handle().invokeExact(how, sigset(arena, sig), MemorySegment.NULL);
            if (r != 0) {
                throw new ErrnoException("pthread_sigmask(" + how + ", " + sig + ")", r);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** A glibc {@code sigset_t} holding just {@code sig} (what {@code sigemptyset} + {@code sigaddset} make). */
    private static MemorySegment sigset(Arena arena, int sig) {
        MemorySegment set = arena.allocate(SIGSET_T_BYTES, 8);
        set.set(JAVA_LONG, 0, 1L << (sig - 1));
        return set;
    }

    private static void checkSignal(int sig) {
        if (sig < 1 || sig > Signals.MAX) {
            throw new IllegalArgumentException("not a signal number: " + sig);
        }
    }
}
