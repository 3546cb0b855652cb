package dev.kava.linux;

import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An epoll instance, {@code epoll(7)}: watches descriptors and reports the ready ones.
 *
 * <p>Each registration carries a caller-chosen 64-bit {@code data} value that comes back with its
 * events (epoll's {@code epoll_data_t.u64}); typically an index into the caller's own table.
 * A descriptor is registered by its open file: closing every descriptor of that file removes the
 * registration, closing one of several duplicates does not.
 *
 * <p>{@link #waitFor} blocks in the kernel: call it from a platform thread. It is safe to
 * {@link #add}, {@link #modify} and {@link #delete} from other threads while one waits.
 */
public final class Epoll implements AutoCloseable {
    /** {@code epoll_ctl(2)} event bits. */
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLPRI = 0x002;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLLRDHUP = 0x2000;
    public static final int EPOLLEXCLUSIVE = 1 << 28;
    public static final int EPOLLWAKEUP = 1 << 29;
    public static final int EPOLLONESHOT = 1 << 30;
    public static final int EPOLLET = 1 << 31;
    /** {@code epoll_ctl(2)} operations. */
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    /** {@code epoll_create1(2)} flag. */
    public static final int EPOLL_CLOEXEC = 02000000;

    /** {@code struct epoll_event}: packed on x86-64 (12 bytes, alignment 1). */
    static final StructLayout EPOLL_EVENT = structLayout(
            JAVA_INT.withByteAlignment(1).withName("events"),
            JAVA_LONG.withByteAlignment(1).withName("data")
    ).withName("struct epoll_event");
    private static final ValueLayout.OfInt EVENTS = JAVA_INT.withByteAlignment(1);
    private static final ValueLayout.OfLong DATA = JAVA_LONG.withByteAlignment(1);
    private static final long EVENTS_OFFSET = Structs.offset(EPOLL_EVENT, "events");
    private static final long DATA_OFFSET = Structs.offset(EPOLL_EVENT, "data");

    /** Most events one {@link #waitFor} returns. */
    public static final int MAX_EVENTS = 1024;

    /** {@code int epoll_create1(int flags)} */
    private static final Native.Lazy EPOLL_CREATE1 = Native.lazyErrnoCall("epoll_create1", Native.INT_OF_INT);
    /** {@code int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)} */
    private static final Native.Lazy EPOLL_CTL = Native.lazyErrnoCall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    /** {@code int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)} */
    private static final Native.Lazy EPOLL_WAIT = Native.lazyErrnoCall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));

    /** One ready descriptor: its {@code events} bits and the {@code data} it was registered with. */
    public record Event(int events, long data) {
        /** EPOLLIN: readable (or, for a listening socket, a connection is waiting). */
        public boolean readable() {
            return (events & EPOLLIN) != 0;
        }

        /** EPOLLOUT: writable. */
        public boolean writable() {
            return (events & EPOLLOUT) != 0;
        }

        /** EPOLLHUP, EPOLLRDHUP or EPOLLERR: the peer hung up or the descriptor has an error. */
        public boolean hangup() {
            return (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) != 0;
        }
    }

    private final Fd fd;

    private Epoll(Fd fd) {
        this.fd = fd;
    }

    /** A new epoll instance, close-on-exec: {@code epoll_create1(2)}. */
    public static Epoll create() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            int r = (int) EPOLL_CREATE1.handle().invokeExact(st, EPOLL_CLOEXEC);
            return new Epoll(Fd.adopt(Native.check(r, st, "epoll_create1")));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The epoll descriptor itself (it can be watched by another epoll). */
    public Fd fd() {
        return fd;
    }

    /** Watches {@code target} for {@code events}, {@code epoll_ctl(2)} EPOLL_CTL_ADD; EEXIST if already watched. */
    public void add(Fd target, int events, long data) {
        control(EPOLL_CTL_ADD, target, events, data);
    }

    /** Changes what {@code target} is watched for, EPOLL_CTL_MOD; ENOENT if not watched. */
    public void modify(Fd target, int events, long data) {
        control(EPOLL_CTL_MOD, target, events, data);
    }

    /** Stops watching {@code target}, EPOLL_CTL_DEL; ENOENT if not watched. */
    public void delete(Fd target) {
        control(EPOLL_CTL_DEL, target, 0, 0);
    }

    private void control(int op, Fd target, int events, long data) {
        Objects.requireNonNull(target, "target");
        int epfd = fd.acquire("epoll_ctl");
        try {
            int raw = target.acquire("epoll_ctl");
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment st = Native.errnoState(arena);
                MemorySegment ev = arena.allocate(EPOLL_EVENT);
                ev.set(EVENTS, EVENTS_OFFSET, events);
                ev.set(DATA, DATA_OFFSET, data);
                Native.check((int) EPOLL_CTL.handle().invokeExact(st, epfd, op, raw, ev), st,
                        "epoll_ctl(" + opName(op) + ", fd " + raw + ")");
            } catch (Throwable t) {
                throw Native.rethrow(t);
            } finally {
                target.release();
            }
        } finally {
            fd.release();
        }
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: forever, 0: just look) for at most {@code maxEvents}
     * (1..{@link #MAX_EVENTS}) ready descriptors, {@code epoll_wait(2)}. Returns the ready ones,
     * empty on timeout. Interrupted by a signal (EINTR), it returns early with an empty list.
     * Blocks: use a platform thread.
     */
    public List<Event> waitFor(int maxEvents, int timeoutMillis) {
        if (maxEvents < 1 || maxEvents > MAX_EVENTS) {
            throw new IllegalArgumentException("maxEvents must be 1.." + MAX_EVENTS + ": " + maxEvents);
        }
        int epfd = fd.acquire("epoll_wait");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment buf = arena.allocate(EPOLL_EVENT, maxEvents);
            int n = (int) EPOLL_WAIT.handle().invokeExact(st, epfd, buf, maxEvents, timeoutMillis);
            if (n < 0) {
                int errno = Native.errno(st);
                if (errno == Errno.EINTR) {
                    return List.of();
                }
                throw new ErrnoException("epoll_wait(fd " + epfd + ")", errno);
            }
            List<Event> events = new ArrayList<>(n);
            long stride = EPOLL_EVENT.byteSize();
            for (int i = 0; i < n; i++) {
                events.add(new Event(buf.get(EVENTS, i * stride + EVENTS_OFFSET), buf.get(DATA, i * stride + DATA_OFFSET)));
            }
            return events;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            fd.release();
        }
    }

    private static String opName(int op) {
        return switch (op) {
            case EPOLL_CTL_ADD -> "ADD";
            case EPOLL_CTL_MOD -> "MOD";
            case EPOLL_CTL_DEL -> "DEL";
            default -> Integer.toString(op);
        };
    }

    /** Closes the epoll descriptor; idempotent. Watched descriptors stay open. */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Epoll[" + fd + "]";
    }
}
