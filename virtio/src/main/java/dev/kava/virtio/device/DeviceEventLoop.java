package dev.kava.virtio.device;

import dev.kava.linux.Epoll;
import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.SystemCalls;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The device event loop: one epoll instance and one platform thread that runs the handlers of
 * every watched descriptor (queue notification eventfds, taps, sockets, console input).
 *
 * <p>{@link #start} runs it on a platform thread of its own (epoll_wait blocks in the kernel);
 * tests may instead call {@link #runOnce} on their own thread. Registration is thread-safe and may
 * happen from any thread, including handlers. A handler that throws is logged and the loop goes
 * on: devices are expected not to throw (see {@link VirtioDevice}); this is the last line.
 *
 * <p>A handler removed while an event for it is already collected does not run: each
 * registration has its own token, looked up when its event is dispatched.
 */
public final class DeviceEventLoop implements EventRegistry, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(DeviceEventLoop.class.getName());
    private static final long WAKE_TOKEN = 0;
    private static final int MAX_EVENTS = 64;

    private record Registration(Fd fd, EventHandler handler) {}

    private final Epoll epoll;
    private final Fd wake;
    private final AtomicLong nextToken = new AtomicLong(1);
    private final Map<Long, Registration> byToken = new ConcurrentHashMap<>();
    private final Map<Fd, Long> byFd = new IdentityHashMap<>();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;
    private volatile Thread thread;

    private DeviceEventLoop(Epoll epoll, Fd wake) {
        this.epoll = epoll;
        this.wake = wake;
    }

    /** A new loop, not yet running. */
    public static DeviceEventLoop create() {
        Epoll epoll = Epoll.create();
        try {
            Fd wake = SystemCalls.eventfd(0, SystemCalls.EFD_CLOEXEC | SystemCalls.EFD_NONBLOCK);
            epoll.add(wake, Epoll.EPOLLIN, WAKE_TOKEN);
            return new DeviceEventLoop(epoll, wake);
        } catch (RuntimeException e) {
            epoll.close();
            throw e;
        }
    }

    @Override
    public void add(Fd fd, int events, EventHandler handler) {
        Objects.requireNonNull(fd, "fd");
        Objects.requireNonNull(handler, "handler");
        long token = nextToken.getAndIncrement();
        synchronized (byFd) {
            if (byFd.containsKey(fd)) {
                throw new IllegalStateException(fd + " is already watched");
            }
            byToken.put(token, new Registration(fd, handler));
            try {
                epoll.add(fd, events, token);
            } catch (RuntimeException e) {
                byToken.remove(token);
                throw e;
            }
            byFd.put(fd, token);
        }
    }

    @Override
    public void modify(Fd fd, int events) {
        synchronized (byFd) {
            Long token = byFd.get(fd);
            if (token == null) {
                throw new IllegalStateException(fd + " is not watched");
            }
            epoll.modify(fd, events, token);
        }
    }

    @Override
    public void remove(Fd fd) {
        synchronized (byFd) {
            Long token = byFd.remove(fd);
            if (token == null) {
                return;
            }
            byToken.remove(token);
            try {
                epoll.delete(fd);
            } catch (LinuxException e) {
                // already closed: the kernel dropped the registration with the last descriptor
            }
        }
    }

    /** How many descriptors are watched (the wake-up eventfd not counted). */
    public int watched() {
        synchronized (byFd) {
            return byFd.size();
        }
    }

    /** Runs {@code task} on the loop's thread (soon, after the current handlers). */
    public void execute(Runnable task) {
        tasks.add(Objects.requireNonNull(task));
        wakeUp();
    }

    /**
     * Waits up to {@code timeoutMillis} (-1 forever) for ready descriptors and runs their
     * handlers, then any queued tasks, on the calling thread. Returns how many handlers ran.
     */
    public int runOnce(int timeoutMillis) {
        int ran = 0;
        List<Epoll.Event> ready = tasks.isEmpty() ? epoll.waitFor(MAX_EVENTS, timeoutMillis) : epoll.waitFor(MAX_EVENTS, 0);
        for (Epoll.Event e : ready) {
            if (e.data() == WAKE_TOKEN) {
                drainWake();
                continue;
            }
            Registration r = byToken.get(e.data());
            if (r == null) {
                continue; // removed after the event was collected
            }
            try {
                r.handler().onEvent(e.events());
            } catch (RuntimeException | InternalError ex) {
                // InternalError: a fault in a shared guest-memory mapping that HotSpot reported
                // asynchronously (see GuestMemory); the loop must outlive it
                LOG.log(System.Logger.Level.ERROR, "device event handler for " + r.fd() + " failed", ex);
            }
            ran++;
        }
        Runnable task;
        while ((task = tasks.poll()) != null) {
            try {
                task.run();
            } catch (RuntimeException | InternalError ex) {
                LOG.log(System.Logger.Level.ERROR, "device event loop task failed", ex);
            }
        }
        return ran;
    }

    /** Runs the loop on a new platform thread named {@code name} until {@link #close()}. */
    public synchronized void start(String name) {
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        thread = Thread.ofPlatform().name(name).daemon().start(() -> {
            while (!closed) {
                try {
                    runOnce(-1);
                } catch (LinuxException e) {
                    if (!closed) {
                        LOG.log(System.Logger.Level.ERROR, "device event loop", e);
                    }
                }
            }
        });
    }

    /** The loop's thread, or null when not started. */
    public Thread thread() {
        return thread;
    }

    /** Whether the caller is the loop's own thread. */
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    private void wakeUp() {
        SystemCalls.eventfdSignal(wake);
    }

    private void drainWake() {
        SystemCalls.eventfdDrain(wake);
    }

    /** Stops the thread (waiting for it) and closes the epoll instance; watched descriptors stay open. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        wakeUp();
        Thread t = thread;
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        epoll.close();
        wake.close();
    }
}
