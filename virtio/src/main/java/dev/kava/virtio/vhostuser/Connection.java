package dev.kava.virtio.vhostuser;

import dev.kava.linux.Epoll;
import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.UnixSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The framing of one front-end connection: reads whole messages and writes replies on a
 * non-blocking socket. A message that starts arriving must be complete within the timeout,
 * so a front-end that stops half-way cannot hold the backend's thread.
 */
final class Connection implements AutoCloseable {
    /** Largest payload accepted; the largest the protocol defines here is GET_CONFIG's 12 + 256. */
    static final int MAX_PAYLOAD = 4096;
    /** Most descriptors one message may carry (VHOST_MEMORY_BASELINE_NREGIONS). */
    static final int MAX_FDS = 8;

    private final UnixSocket socket;
    private final Epoll waiter;
    private final int timeoutMillis;

    Connection(UnixSocket socket, int timeoutMillis) {
        this.socket = socket;
        this.timeoutMillis = timeoutMillis;
        socket.fd().setNonBlocking(true);
        this.waiter = Epoll.create();
        try {
            waiter.add(socket.fd(), Epoll.EPOLLIN, 0);
        } catch (RuntimeException e) {
            waiter.close();
            throw e;
        }
    }

    Fd fd() {
        return socket.fd();
    }

    /**
     * The next message, or null when nothing is waiting (a spurious wake-up). Throws when the
     * front-end closed the connection or broke the framing: a header that does not arrive whole,
     * a bad version, a REPLY flag, a payload over {@link #MAX_PAYLOAD}, more than
     * {@link #MAX_FDS} descriptors. Descriptors of a refused message are closed.
     */
    Message read() throws ProtocolException {
        byte[] header = new byte[Message.HEADER_SIZE];
        UnixSocket.Received first;
        try {
            first = socket.receive(header, 0, header.length, MAX_FDS + 1);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EAGAIN) {
                return null;
            }
            throw new ProtocolException("receive failed: " + e.getMessage());
        }
        List<Fd> fds = new ArrayList<>(first.fds());
        boolean ok = false;
        try {
            if (first.bytes() < 0) {
                throw new ProtocolException("the front-end closed the connection");
            }
            readFully(header, first.bytes(), "header");
            ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.nativeOrder());
            int request = h.getInt();
            int flags = h.getInt();
            int size = h.getInt();
            String what = describe(request);
            if (fds.size() > MAX_FDS) {
                throw new ProtocolException(what + " came with more than " + MAX_FDS + " descriptors");
            }
            if ((flags & Message.VERSION_MASK) != Message.VERSION) {
                throw new ProtocolException(what + " has protocol version " + (flags & Message.VERSION_MASK));
            }
            if ((flags & Message.FLAG_REPLY) != 0) {
                throw new ProtocolException(what + " has the REPLY flag set");
            }
            if (size < 0 || size > MAX_PAYLOAD) {
                throw new ProtocolException(what + " announces a payload of " + Integer.toUnsignedString(size) + " bytes");
            }
            byte[] payload = new byte[size];
            readFully(payload, 0, what + " payload");
            ok = true;
            return new Message(request, flags, payload, fds);
        } finally {
            if (!ok) {
                fds.forEach(Fd::close);
            }
        }
    }

    private void readFully(byte[] buf, int from, String what) throws ProtocolException {
        int at = from;
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (at < buf.length) {
            UnixSocket.Received r;
            try {
                // descriptors travel with a message's first byte; any sent later are refused (the kernel closes them)
                r = socket.receive(buf, at, buf.length - at, 0);
            } catch (ErrnoException e) {
                if (e.errno() != Errno.EAGAIN) {
                    throw new ProtocolException("receive failed: " + e.getMessage());
                }
                await(Epoll.EPOLLIN, deadline, what + " truncated: " + at + " of " + buf.length + " bytes arrived");
                continue;
            }
            if (r.bytes() < 0) {
                throw new ProtocolException(what + " truncated: the front-end closed the connection after "
                        + at + " of " + buf.length + " bytes");
            }
            at += r.bytes();
        }
    }

    /** Sends a whole reply, waiting (up to the timeout) while the socket buffer is full. */
    void send(byte[] message) throws ProtocolException {
        int at = 0;
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (at < message.length) {
            try {
                at += socket.send(message, at, message.length - at);
            } catch (ErrnoException e) {
                if (e.errno() != Errno.EAGAIN) {
                    throw new ProtocolException("send failed: " + e.getMessage());
                }
                await(Epoll.EPOLLOUT, deadline, "the front-end does not read its replies");
            }
        }
    }

    private void await(int events, long deadline, String onTimeout) throws ProtocolException {
        long left = (deadline - System.nanoTime()) / 1_000_000L;
        if (left <= 0) {
            throw new ProtocolException(onTimeout);
        }
        try {
            waiter.modify(socket.fd(), events, 0);
            waiter.waitFor(1, (int) Math.min(left, Integer.MAX_VALUE));
        } catch (LinuxException e) {
            throw new ProtocolException("waiting for the socket failed: " + e.getMessage());
        }
    }

    static String describe(int request) {
        VhostUserRequest r = VhostUserRequest.of(request);
        return r != null ? r.name() : "request " + Integer.toUnsignedString(request);
    }

    @Override
    public void close() {
        try {
            waiter.close();
        } finally {
            socket.close();
        }
    }
}
