package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Single system calls that need no handle type of their own. */
public final class SystemCalls {
    /** {@code reboot(2)} commands. */
    public static final int LINUX_REBOOT_CMD_RESTART = 0x01234567;
    public static final int LINUX_REBOOT_CMD_HALT = 0xCDEF0123;
    public static final int LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC;
    /** {@code clock_settime(2)} clock. */
    public static final int CLOCK_REALTIME = 0;
    /** {@code memfd_create(2)} flags. */
    public static final int MFD_CLOEXEC = 1;
    public static final int MFD_ALLOW_SEALING = 2;
    /** {@code eventfd(2)} flags. */
    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = 04000;
    public static final int EFD_CLOEXEC = 02000000;

    /** {@code int ioctl(int fd, unsigned long request, ... void *arg)} */
    private static final Native.Lazy IOCTL_PTR = Native.lazyErrnoCall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    /** {@code int ioctl(int fd, unsigned long request, ... unsigned long arg)} */
    private static final Native.Lazy IOCTL_LONG = Native.lazyErrnoCall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    /** {@code void sync(void)} */
    private static final Native.Lazy SYNC = Native.lazyPlainCall("sync", FunctionDescriptor.ofVoid());
    /** {@code int reboot(int cmd)} (glibc adds the magic numbers) */
    private static final Native.Lazy REBOOT = Native.lazyErrnoCall("reboot", Native.INT_OF_INT);
    /** {@code int sethostname(const char *name, size_t len)} */
    private static final Native.Lazy SETHOSTNAME = Native.lazyErrnoCall("sethostname",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    /** {@code int clock_settime(clockid_t clock, const struct timespec *tp)} */
    private static final Native.Lazy CLOCK_SETTIME = Native.lazyErrnoCall("clock_settime",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    /** {@code int uname(struct utsname *buf)} */
    private static final Native.Lazy UNAME = Native.lazyErrnoCall("uname", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    /** {@code int memfd_create(const char *name, unsigned int flags)} */
    private static final Native.Lazy MEMFD_CREATE = Native.lazyErrnoCall("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code int eventfd(unsigned int initval, int flags)} */
    private static final Native.Lazy EVENTFD = Native.lazyErrnoCall("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    private SystemCalls() {}

    /**
     * {@code ioctl(2)} with a pointer argument; returns the call's non-negative result. Not retried
     * on EINTR (for some requests, such as KVM_RUN, EINTR is an answer). {@code arg} must be a
     * native segment (or {@link MemorySegment#NULL}).
     */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        return ioctl("ioctl(fd " + fd + ", 0x" + Long.toHexString(request) + ")", fd, request, arg);
    }

    /** {@code ioctl(2)} with an integer argument; see {@link #ioctl(int, long, MemorySegment)}. */
    public static int ioctl(int fd, long request, long arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            return Native.check((int) IOCTL_LONG.handle().invokeExact(st, fd, request, arg), st,
                    "ioctl(fd " + fd + ", 0x" + Long.toHexString(request) + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    static int ioctl(String call, int fd, long request, MemorySegment arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            return Native.check((int) IOCTL_PTR.handle().invokeExact(st, fd, request, arg), st, call);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Flushes filesystem buffers, {@code sync(2)}. */
    public static void sync() {
        try {
            SYNC.handle().invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Restarts, halts or powers off the machine at once, {@code reboot(2)}; call {@link #sync()}
     * first. Returns only on failure (or never).
     */
    public static void reboot(int cmd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) REBOOT.handle().invokeExact(st, cmd), st, "reboot(0x" + Integer.toHexString(cmd) + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Sets the hostname of this UTS namespace, {@code sethostname(2)}. */
    public static void sethostname(String name) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment cname = arena.allocateFrom(name);
            Native.check((int) SETHOSTNAME.handle().invokeExact(st, cname, (long) bytes.length), st, "sethostname(" + name + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Sets the wall clock, {@code clock_settime(2)} CLOCK_REALTIME; {@code nsec} in 0..999999999. */
    public static void setRealtimeClock(long sec, long nsec) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment ts = arena.allocate(Structs.TIMESPEC);
            ts.set(JAVA_LONG, Structs.offset(Structs.TIMESPEC, "tv_sec"), sec);
            ts.set(JAVA_LONG, Structs.offset(Structs.TIMESPEC, "tv_nsec"), nsec);
            Native.check((int) CLOCK_SETTIME.handle().invokeExact(st, CLOCK_REALTIME, ts), st, "clock_settime(CLOCK_REALTIME)");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The running kernel's release, e.g. {@code "6.1.0-18-amd64"}: {@code uname(2)}. */
    public static String kernelRelease() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment uts = arena.allocate(Structs.UTSNAME);
            Native.check((int) UNAME.handle().invokeExact(st, uts), st, "uname");
            return uts.getString(Structs.offset(Structs.UTSNAME, "release"));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** An anonymous memory file, {@code memfd_create(2)}; returns the raw descriptor. */
    public static int memfdCreate(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            return Native.check((int) MEMFD_CREATE.handle().invokeExact(st, arena.allocateFrom(name), flags), st,
                    "memfd_create(" + name + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@link #memfdCreate} as an owned {@link Fd}. */
    public static Fd memfd(String name, int flags) {
        return Fd.adopt(memfdCreate(name, flags));
    }

    /**
     * An event counter, {@code eventfd(2)}: read and write it as 8-byte native-endian counts
     * through {@link Fd#read(byte[], int, int)} / {@link Fd#write(byte[], int, int)}.
     */
    public static Fd eventfd(int initval, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            return Fd.adopt(Native.check((int) EVENTFD.handle().invokeExact(st, initval, flags), st, "eventfd"));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private static final byte[] ONE = {1, 0, 0, 0, 0, 0, 0, 0}; // 1 as a native-endian (x86-64) 64-bit count

    /**
     * Adds 1 to {@code eventfd}'s counter, the "wake up" every kick, call and interrupt line is.
     * A counter at its maximum (EAGAIN, non-blocking) or a descriptor closed meanwhile (EBADF,
     * teardown) is ignored: its reader is awake already, or gone.
     */
    public static void eventfdSignal(Fd eventfd) {
        try {
            eventfd.write(ONE, 0, 8);
        } catch (ErrnoException e) {
            // saturated or closed: see above
        }
    }

    /**
     * Reads, and so resets, a non-blocking {@code eventfd}'s counter; returns it, 0 when it was
     * already 0 (EAGAIN) or the descriptor was closed meanwhile.
     */
    public static long eventfdDrain(Fd eventfd) {
        byte[] count = new byte[8];
        try {
            return eventfd.read(count, 0, 8) == 8 ? ByteBuffer.wrap(count).order(ByteOrder.nativeOrder()).getLong() : 0;
        } catch (ErrnoException e) {
            return 0;
        }
    }
}
