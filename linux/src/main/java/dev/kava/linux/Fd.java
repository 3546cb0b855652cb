package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An owned Linux file descriptor.
 *
 * <h2>Closing while in use</h2>
 * Every call made through this object holds a use count on the descriptor for its duration.
 * {@link #close()} marks the object closed at once (later calls throw {@link ErrnoException} with
 * {@code EBADF}) but the real {@code close(2)} happens only when the last call in flight returns.
 * So a concurrent close can never make another thread's read or write land on a reused descriptor
 * number. The flip side: close does not wake a thread blocked in {@link #read}; wake it by closing
 * or shutting down the other end (a {@link UnixSocket} close does shut the socket down when another
 * thread is inside a call on it).
 *
 * <p>{@link #value()} hands out the raw number without that guard: a caller that passes it to its
 * own system calls must itself make sure no one closes this object meanwhile.
 *
 * <h2>Threads</h2>
 * {@code read} on a pipe, socket or tty blocks the calling thread in the kernel; on a virtual
 * thread that pins its carrier. Call blocking reads from platform threads.
 *
 * <p>There is no cleaner: an {@code Fd} that becomes unreachable without {@link #close()} leaks
 * its descriptor.
 */
public final class Fd implements AutoCloseable {
    /** {@code ssize_t read(int fd, void *buf, size_t count)} */
    private static final Native.Lazy READ = Native.lazyErrnoCall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    /** {@code ssize_t write(int fd, const void *buf, size_t count)} */
    private static final Native.Lazy WRITE = Native.lazyErrnoCall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    /** {@code int open(const char *path, int flags, ... mode_t mode)} */
    private static final Native.Lazy OPEN = Native.lazyErrnoCall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    /** {@code int fcntl(int fd, int cmd, ... int arg)} */
    private static final Native.Lazy FCNTL = Native.lazyErrnoCall("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    /** {@code int close(int fd)}: errors are not reported (the descriptor is gone either way). */
    private static final Native.Lazy CLOSE = Native.lazyPlainCall("close", Native.INT_OF_INT);

    /** Largest single transfer: one native bounce buffer per call stays small. */
    private static final int CHUNK = 64 * 1024;
    private static final int CLOSED = 1;
    private static final int ONE_USER = 2;

    private final int raw;
    /** Bit 0: closed. The rest: calls in flight, times two. */
    private final AtomicInteger state = new AtomicInteger();

    private Fd(int raw) {
        this.raw = raw;
    }

    /** Takes ownership of an open descriptor number: closing this object closes it. */
    public static Fd adopt(int raw) {
        if (raw < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + raw);
        }
        return new Fd(raw);
    }

    /**
     * Opens a file, {@code open(2)}; retries EINTR. Add {@link OpenFlags#O_CLOEXEC} unless the
     * descriptor is meant to be inherited.
     */
    public static Fd open(String path, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment cpath = arena.allocateFrom(path);
            while (true) {
                int r = (int) OPEN.handle().invokeExact(st, cpath, flags, mode);
                if (r >= 0) {
                    return new Fd(r);
                }
                int errno = Native.errno(st);
                if (errno != Errno.EINTR) {
                    throw new ErrnoException("open(" + path + ")", errno);
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The descriptor number; throws {@link ErrnoException} (EBADF) once closed. */
    public int value() {
        if (!isOpen()) {
            throw closed("value");
        }
        return raw;
    }

    /** False once {@link #close()} was called. */
    public boolean isOpen() {
        return (state.get() & CLOSED) == 0;
    }

    /**
     * Reads up to {@code len} bytes, {@code read(2)}; retries EINTR. Returns the count read, -1 at
     * end of file (never 0 when {@code len > 0}); throws {@link ErrnoException} with EAGAIN when the
     * descriptor is non-blocking and nothing is ready. Blocks on pipes, sockets and ttys.
     */
    public int read(byte[] b, int off, int len) {
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        int n = Math.min(len, CHUNK);
        int fd = acquire("read");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(n);
            int r = readInto(fd, Native.errnoState(arena), buf, n);
            if (r > 0) {
                MemorySegment.copy(buf, JAVA_BYTE, 0, b, off, r);
            }
            return r;
        } finally {
            release();
        }
    }

    /**
     * Reads into {@code dst}'s remaining space, {@code read(2)}, advancing its position. Same
     * results as {@link #read(byte[], int, int)}. Direct buffers are read into without a copy.
     */
    public int read(ByteBuffer dst) {
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("read-only buffer");
        }
        int len = dst.remaining();
        if (len == 0) {
            return 0;
        }
        int fd = acquire("read");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            int r;
            if (dst.isDirect()) {
                r = readInto(fd, st, MemorySegment.ofBuffer(dst), len);
                if (r > 0) {
                    dst.position(dst.position() + r);
                }
            } else {
                int n = Math.min(len, CHUNK);
                MemorySegment buf = arena.allocate(n);
                r = readInto(fd, st, buf, n);
                if (r > 0) {
                    dst.put(buf.asSlice(0, r).asByteBuffer());
                }
            }
            return r;
        } finally {
            release();
        }
    }

    private static int readInto(int fd, MemorySegment st, MemorySegment buf, int n) {
        try {
            while (true) {
                long r = (long) READ.handle().invokeExact(st, fd, buf, (long) n);
                if (r > 0) {
                    return (int) r;
                }
                if (r == 0) {
                    return -1;
                }
                int errno = Native.errno(st);
                if (errno != Errno.EINTR) {
                    throw new ErrnoException("read(fd " + fd + ")", errno);
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Writes up to {@code len} bytes, {@code write(2)}; retries EINTR; returns the count written.
     * A write to a pipe without readers fails with EPIPE (the JVM does not die of SIGPIPE).
     */
    public int write(byte[] b, int off, int len) {
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        int n = Math.min(len, CHUNK);
        int fd = acquire("write");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment buf = arena.allocate(n);
            MemorySegment.copy(b, off, buf, JAVA_BYTE, 0, n);
            while (true) {
                long r = (long) WRITE.handle().invokeExact(st, fd, buf, (long) n);
                if (r >= 0) {
                    return (int) r;
                }
                int errno = Native.errno(st);
                if (errno != Errno.EINTR) {
                    throw new ErrnoException("write(fd " + fd + ")", errno);
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            release();
        }
    }

    /** Writes all {@code len} bytes, looping over {@link #write(byte[], int, int)}. */
    public void writeFully(byte[] b, int off, int len) {
        Objects.checkFromIndexSize(off, len, b.length);
        while (len > 0) {
            int w = write(b, off, len);
            off += w;
            len -= w;
        }
    }

    /** A new descriptor for the same open file, close-on-exec: {@code fcntl(2)} F_DUPFD_CLOEXEC. */
    public Fd dup() {
        return new Fd(fcntl("dup", OpenFlags.F_DUPFD_CLOEXEC, 0));
    }

    /** Sets or clears O_NONBLOCK, {@code fcntl(2)} F_GETFL / F_SETFL. */
    public void setNonBlocking(boolean nonBlocking) {
        int flags = fcntl("setNonBlocking", OpenFlags.F_GETFL, 0);
        int next = nonBlocking ? flags | OpenFlags.O_NONBLOCK : flags & ~OpenFlags.O_NONBLOCK;
        if (next != flags) {
            fcntl("setNonBlocking", OpenFlags.F_SETFL, next);
        }
    }

    /** Sets or clears FD_CLOEXEC, {@code fcntl(2)} F_GETFD / F_SETFD. */
    public void setCloexec(boolean cloexec) {
        int flags = fcntl("setCloexec", OpenFlags.F_GETFD, 0);
        int next = cloexec ? flags | OpenFlags.FD_CLOEXEC : flags & ~OpenFlags.FD_CLOEXEC;
        if (next != flags) {
            fcntl("setCloexec", OpenFlags.F_SETFD, next);
        }
    }

    /** Whether FD_CLOEXEC is set, {@code fcntl(2)} F_GETFD. */
    public boolean isCloexec() {
        return (fcntl("isCloexec", OpenFlags.F_GETFD, 0) & OpenFlags.FD_CLOEXEC) != 0;
    }

    /** The file status flags, {@code fcntl(2)} F_GETFL (e.g. O_NONBLOCK, the access mode). */
    public int statusFlags() {
        return fcntl("statusFlags", OpenFlags.F_GETFL, 0);
    }

    private int fcntl(String what, int cmd, int arg) {
        int fd = acquire(what);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            return Native.check((int) FCNTL.handle().invokeExact(st, fd, cmd, arg), st, "fcntl(fd " + fd + ", " + cmd + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            release();
        }
    }

    /**
     * A stream reading through {@link #read(byte[], int, int)}. Closing the stream does not close
     * this descriptor. Errors surface as {@link IOException} wrapping the {@link ErrnoException}.
     */
    public InputStream inputStream() {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return len == 0 ? 0 : Fd.this.read(b, off, len);
                } catch (LinuxException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
        };
    }

    /**
     * A stream writing through {@link #writeFully(byte[], int, int)}. Closing the stream does not
     * close this descriptor. Errors surface as {@link IOException} wrapping the
     * {@link ErrnoException}.
     */
    public OutputStream outputStream() {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    writeFully(b, off, len);
                } catch (LinuxException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
        };
    }

    /**
     * Closes the descriptor, {@code close(2)}: idempotent and thread-safe. If calls are in flight
     * on other threads, the real close happens when the last of them returns (see class doc).
     */
    @Override
    public void close() {
        while (true) {
            int s = state.get();
            if ((s & CLOSED) != 0) {
                return;
            }
            if (state.compareAndSet(s, s | CLOSED)) {
                if (s == 0) {
                    closeNow();
                }
                return;
            }
        }
    }

    /**
     * Marks a call in flight and returns the raw number, which stays valid until {@link #release()}.
     * Throws EBADF when closed.
     */
    int acquire(String call) {
        while (true) {
            int s = state.get();
            if ((s & CLOSED) != 0) {
                throw closed(call);
            }
            if (state.compareAndSet(s, s + ONE_USER)) {
                return raw;
            }
        }
    }

    /** Ends a call started by {@link #acquire(String)}; the last one out after close closes. */
    void release() {
        if (state.addAndGet(-ONE_USER) == CLOSED) {
            closeNow();
        }
    }

    /** Calls in flight right now (including the caller's own, if it holds one). */
    int callsInFlight() {
        return state.get() >>> 1;
    }

    private void closeNow() {
        try {
            int ignored = (int) CLOSE.handle().invokeExact(raw);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private ErrnoException closed(String call) {
        return new ErrnoException(call + "(fd " + raw + ", closed)", Errno.EBADF);
    }

    @Override
    public String toString() {
        return isOpen() ? "Fd[" + raw + "]" : "Fd[" + raw + ", closed]";
    }
}
