package dev.kava.virtio.vhostuser;

import dev.kava.linux.Epoll;
import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.SystemCalls;
import dev.kava.linux.UnixSocket;
import dev.kava.virtio.queue.Virtqueue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A vhost-user back-end server: serves one {@link VhostUserDevice} to a front-end (QEMU) over a
 * unix socket it listens on, per QEMU's docs/interop/vhost-user.rst.
 *
 * <h2>What it implements</h2>
 * GET/SET_FEATURES, GET/SET_PROTOCOL_FEATURES (offering MQ, REPLY_ACK, RESET_DEVICE, and CONFIG
 * when the device asks for it), SET_OWNER, RESET_OWNER (stops the rings), RESET_DEVICE,
 * SET_MEM_TABLE (up to 8 regions, each fd mapped MAP_SHARED at its mmap offset),
 * SET_VRING_NUM/ADDR/BASE (ring addresses are the front-end's user addresses, translated through
 * the memory table), GET_VRING_BASE (stops the ring, answers its next available index),
 * SET_VRING_KICK/CALL/ERR (eventfds by SCM_RIGHTS, or the NOFD bit), GET_QUEUE_NUM,
 * SET_VRING_ENABLE and GET_CONFIG. Split rings only; no dirty logging, IOMMU, postcopy, inflight
 * tracking or in-band notifications (none of them is offered).
 *
 * <h2>A hostile front-end</h2>
 * Everything the front-end sends is checked: framing (version, REPLY flag, sizes up to
 * {@value Connection#MAX_PAYLOAD} bytes, at most 8 descriptors, a message that starts arriving
 * must complete within the message timeout), each request's exact payload size and descriptor
 * count, ring indexes, sizes and addresses, memory tables (region count, overflow, overlap,
 * mappings inside their files). A well-formed request the back-end refuses is answered with a
 * non-zero REPLY_ACK status when the front-end asked for one; anything else ends the connection.
 * Either way no exception escapes the backend's thread, and a closed connection leaves no
 * descriptor, mapping or ring behind: all are closed, the device is reset, and the backend
 * accepts the next front-end (QEMU's reconnect) or stops, as configured.
 *
 * <h2>Threads</h2>
 * One platform thread per backend runs an epoll loop over the listening socket, the connection
 * and every ring's kick eventfd, so messages and queue processing never run concurrently. On a
 * kick it drains the eventfd, calls {@link VhostUserDevice#handleQueue} and signals the call
 * eventfd when {@link Virtqueue#needsNotification} says so. A ring whose device throws is stopped
 * and its error eventfd signalled. A device may complete chains on threads of its own through
 * {@link UsedRing}; the backend then calls {@link VhostUserDevice#quiesce()} before every message
 * and before releasing a front-end, so memory and rings never change under those threads.
 */
public final class VhostUserBackend implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VhostUserBackend.class.getName());

    /** Feature bit VHOST_USER_F_PROTOCOL_FEATURES. */
    public static final int F_PROTOCOL_FEATURES = 30;
    /** Feature bit VIRTIO_F_VERSION_1. */
    public static final int VIRTIO_F_VERSION_1 = 32;
    /** Protocol feature bits. */
    public static final int PROTOCOL_F_MQ = 0;
    public static final int PROTOCOL_F_REPLY_ACK = 3;
    public static final int PROTOCOL_F_CONFIG = 9;
    public static final int PROTOCOL_F_RESET_DEVICE = 13;
    /** Most queues a device may have: SET_VRING_KICK carries the index in 8 bits. */
    public static final int MAX_QUEUES = 255;

    /** Transport feature bits 24..40: only those the backend implements are offered. */
    private static final long TRANSPORT_BITS = ((1L << 41) - 1) & ~((1L << 24) - 1);

    private static final long WAKE = 0;
    private static final long LISTENER = 1;
    private static final long CONNECTION = 2;
    private static final long KICK = 16;
    /** Messages handled per readiness of the socket before kicks get their turn. */
    private static final int MESSAGES_PER_TURN = 64;

    /** What happens when a front-end disconnects. */
    public enum OnDisconnect {
        /** Wait for the next front-end (QEMU reconnecting, or a new VM). */
        ACCEPT_NEXT,
        /** Stop the backend: close the listening socket and end the thread. */
        STOP
    }

    /**
     * Hears what the backend does; called on its thread (only {@link #queueFailed} may also come
     * from a device's worker thread, see {@link UsedRing}). Methods must return quickly and not throw.
     */
    public interface Observer {
        /** No-op observer. */
        Observer NONE = new Observer() {};

        /** A front-end connected. */
        default void connected() {}

        /** A request was carried out ({@code ok}) or refused. */
        default void handled(VhostUserRequest request, boolean ok) {}

        /** The front-end is gone or was disconnected, for {@code reason}; all its resources are released. */
        default void disconnected(String reason) {}

        /** Ring {@code index} stopped on a device or ring error; its error eventfd was signalled. */
        default void queueFailed(int index, Exception cause) {}
    }

    /**
     * How a backend runs.
     *
     * @param socket         the unix socket path to listen on (must not exist)
     * @param onDisconnect   what to do when the front-end leaves
     * @param messageTimeout how long a message that started arriving may take to complete
     * @param observer       told about connections, requests and ring failures
     */
    public record Config(Path socket, OnDisconnect onDisconnect, Duration messageTimeout, Observer observer) {
        public Config {
            Objects.requireNonNull(socket, "socket");
            Objects.requireNonNull(onDisconnect, "onDisconnect");
            Objects.requireNonNull(observer, "observer");
            if (messageTimeout.isNegative() || messageTimeout.isZero() || messageTimeout.toMillis() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("message timeout must be positive: " + messageTimeout);
            }
        }

        /** Listen on {@code socket}, accept the next front-end after a disconnect, 1 s message timeout. */
        public static Config of(Path socket) {
            return new Config(socket, OnDisconnect.ACCEPT_NEXT, Duration.ofSeconds(1), Observer.NONE);
        }

        public Config withOnDisconnect(OnDisconnect value) {
            return new Config(socket, value, messageTimeout, observer);
        }

        public Config withObserver(Observer value) {
            return new Config(socket, onDisconnect, messageTimeout, value);
        }

        public Config withMessageTimeout(Duration value) {
            return new Config(socket, onDisconnect, value, observer);
        }
    }

    private final VhostUserDevice device;
    private final Config config;
    private final UnixSocket listener;
    private final Epoll epoll;
    private final Fd wake;
    private final Thread thread;
    private final Session.Kicks kicks = new Session.Kicks() {
        @Override
        public void watch(Vring ring) {
            epoll.add(ring.kick, Epoll.EPOLLIN, KICK + ring.index);
        }

        @Override
        public void unwatch(Vring ring) {
            try {
                epoll.delete(ring.kick);
            } catch (ErrnoException e) {
                // not watched: nothing to undo
            }
        }
    };
    private volatile boolean stopping;
    private volatile boolean connected;
    private Connection connection;
    private Session session;

    private VhostUserBackend(VhostUserDevice device, Config config, UnixSocket listener, Epoll epoll, Fd wake) {
        this.device = device;
        this.config = config;
        this.listener = listener;
        this.epoll = epoll;
        this.wake = wake;
        this.thread = Thread.ofPlatform().name("vhost-user " + config.socket().getFileName()).daemon().unstarted(this::run);
    }

    /**
     * Listens on {@code config.socket()} and starts the backend's thread. Fails when the device's
     * description is invalid or the socket cannot be created (e.g. the path exists).
     */
    public static VhostUserBackend start(VhostUserDevice device, Config config) {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(config, "config");
        int queues = device.numQueues();
        if (queues < 1 || queues > MAX_QUEUES) {
            throw new IllegalArgumentException("a vhost-user device has 1.." + MAX_QUEUES + " queues, not " + queues);
        }
        int max = device.maxQueueSize();
        if (max < 1 || max > Virtqueue.MAX_SIZE || Integer.bitCount(max) != 1) {
            throw new IllegalArgumentException("max queue size must be a power of 2 up to " + Virtqueue.MAX_SIZE + ": " + max);
        }
        UnixSocket listener = UnixSocket.listen(config.socket(), 1);
        Epoll epoll = null;
        Fd wake = null;
        try {
            listener.fd().setNonBlocking(true);
            epoll = Epoll.create();
            wake = SystemCalls.eventfd(0, SystemCalls.EFD_CLOEXEC | SystemCalls.EFD_NONBLOCK);
            epoll.add(wake, Epoll.EPOLLIN, WAKE);
            epoll.add(listener.fd(), Epoll.EPOLLIN, LISTENER);
            VhostUserBackend backend = new VhostUserBackend(device, config, listener, epoll, wake);
            backend.thread.start();
            return backend;
        } catch (RuntimeException e) {
            if (epoll != null) {
                epoll.close();
            }
            if (wake != null) {
                wake.close();
            }
            listener.close();
            deleteSocket(config.socket());
            throw e;
        }
    }

    /** The socket path the front-end connects to. */
    public Path socket() {
        return config.socket();
    }

    /** Whether a front-end is connected now. */
    public boolean isConnected() {
        return connected;
    }

    /** Whether the backend's thread still runs (false after {@link #close()}, or after a disconnect with STOP). */
    public boolean isRunning() {
        return thread.isAlive();
    }

    /** Waits up to {@code timeout} for the backend's thread to end; returns whether it has. */
    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        return thread.join(timeout);
    }

    /** The virtio features offered for {@code device}: its device bits plus what the backend implements. */
    static long offeredFeatures(VhostUserDevice device) {
        return (device.features() & ~TRANSPORT_BITS) | (1L << VIRTIO_F_VERSION_1)
                | (1L << Virtqueue.RING_F_INDIRECT_DESC) | (1L << Virtqueue.RING_F_EVENT_IDX) | (1L << F_PROTOCOL_FEATURES);
    }

    /** The protocol features offered for {@code device}. */
    static long offeredProtocolFeatures(VhostUserDevice device) {
        return (1L << PROTOCOL_F_MQ) | (1L << PROTOCOL_F_REPLY_ACK) | (1L << PROTOCOL_F_RESET_DEVICE)
                | (device.protocolFeatures() & (1L << PROTOCOL_F_CONFIG));
    }

    // ---------------------------------------------------------------- the thread

    private void run() {
        try {
            while (!stopping) {
                List<Epoll.Event> events = epoll.waitFor(64, -1);
                for (Epoll.Event e : events) {
                    if (stopping) {
                        break;
                    }
                    try {
                        dispatch(e.data());
                    } catch (InternalError fault) {
                        // SIGBUS in the front-end's memory (it truncated a memfd it gave us), reported late
                        if (session != null) {
                            disconnect("fault accessing the front-end's memory: " + fault.getMessage());
                        }
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "vhost-user backend on " + config.socket() + " failed", e);
        } finally {
            if (session != null) {
                disconnect("the backend stopped");
            }
            epoll.close();
            wake.close();
            listener.close();
            deleteSocket(config.socket());
        }
    }

    private void dispatch(long data) {
        if (data == WAKE) {
            SystemCalls.eventfdDrain(wake);
        } else if (data == LISTENER) {
            accept();
        } else if (data == CONNECTION) {
            serve();
        } else if (data >= KICK && session != null) {
            try {
                session.kicked((int) (data - KICK));
            } catch (RuntimeException ex) {
                disconnect("internal error on a kick: " + ex);
            }
        }
    }

    private void accept() {
        UnixSocket s;
        try {
            s = listener.accept();
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EAGAIN) {
                LOG.log(System.Logger.Level.WARNING, "accept on " + config.socket() + ": " + e.getMessage());
            }
            return;
        }
        try {
            connection = new Connection(s, (int) config.messageTimeout().toMillis());
            session = new Session(device, kicks, config.observer());
            epoll.delete(listener.fd()); // one front-end at a time; others wait in the backlog
            epoll.add(connection.fd(), Epoll.EPOLLIN | Epoll.EPOLLRDHUP, CONNECTION);
        } catch (LinuxException e) {
            LOG.log(System.Logger.Level.WARNING, "setting up a connection: " + e.getMessage());
            if (connection != null) {
                connection.close();
            } else {
                s.close();
            }
            connection = null;
            session = null;
            return;
        }
        connected = true;
        config.observer().connected();
    }

    /** The connection is readable (or hung up): handle what arrived. */
    private void serve() {
        try {
            for (int i = 0; i < MESSAGES_PER_TURN && session != null; i++) {
                Message m = connection.read();
                if (m == null) {
                    return;
                }
                LOG.log(System.Logger.Level.TRACE, () -> "received " + m);
                byte[] reply = session.handle(m);
                if (reply != null) {
                    connection.send(reply);
                }
                session.processPending();
            }
        } catch (ProtocolException e) {
            disconnect(e.getMessage());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "internal error handling a request", e);
            disconnect("internal error: " + e);
        }
    }

    /** Releases everything of the current front-end, then accepts the next one or stops. */
    private void disconnect(String reason) {
        LOG.log(System.Logger.Level.DEBUG, () -> "front-end disconnected: " + reason);
        Session s = session;
        Connection c = connection;
        session = null;
        connection = null;
        connected = false;
        try {
            epoll.delete(c.fd());
        } catch (LinuxException e) {
            // already gone
        }
        try {
            s.close();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "releasing the front-end's resources", e);
        }
        c.close();
        config.observer().disconnected(reason);
        if (config.onDisconnect() == OnDisconnect.STOP || stopping) {
            stopping = true;
        } else {
            epoll.add(listener.fd(), Epoll.EPOLLIN, LISTENER);
        }
    }

    private static void deleteSocket(Path socket) {
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot remove " + socket + ": " + e.getMessage());
        }
    }

    /**
     * Stops the backend: disconnects the front-end (releasing all its resources), closes the
     * listening socket and removes its path, and waits for the thread to end. Idempotent.
     */
    @Override
    public void close() {
        stopping = true;
        SystemCalls.eventfdSignal(wake); // closed: the thread is ending or has ended
        if (Thread.currentThread() != thread) {
            try {
                if (!thread.join(Duration.ofSeconds(10))) {
                    LOG.log(System.Logger.Level.WARNING, "vhost-user backend thread did not stop within 10 s (a device stuck?)");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return "VhostUserBackend[" + config.socket() + (connected ? ", connected" : "") + (thread.isAlive() ? "]" : ", stopped]");
    }
}
