package dev.kava.virtio.vsock;

import dev.kava.linux.Epoll;
import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.UnixSocket;
import dev.kava.virtio.device.Buffers;
import dev.kava.virtio.device.EventRegistry;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The host side of hybrid vsock: turns guest vsock streams into host unix socket streams and
 * back, Firecracker's convention.
 *
 * <ul>
 *   <li>Host to guest: a client connects to {@link VsockConfig#socket()}, writes
 *       {@code CONNECT <port>\n}; the muxer picks a free host port (from 2^30 up), sends the guest
 *       a REQUEST, and on the guest's RESPONSE answers the client {@code OK <hostport>\n}; from
 *       then on the client's socket is the stream. A guest RST (nothing listens on that port)
 *       closes the client's socket.</li>
 *   <li>Guest to host: a guest REQUEST to host port P connects to {@code <socket>_<P>}; RESPONSE
 *       if a listener is there, RST if not.</li>
 *   <li>Shutdown: the guest's SHUTDOWN flags half-close the host socket; the host's end of stream
 *       becomes a SHUTDOWN to the guest, which answers with RST; a guest RST closes the host
 *       socket.</li>
 * </ul>
 *
 * <h2>Bounds</h2>
 * Everything a guest can make the host hold is bounded: {@link #MAX_CONNECTIONS} connections
 * (more REQUESTs get RST), {@link VsockConnection#BUF_ALLOC} buffered bytes per connection (the
 * credit we advertise; a guest sending more is reset), {@link #MAX_CONTROL} queued control
 * packets (beyond it the device stops taking guest packets until the guest takes ours), and
 * {@link #MAX_CLIENTS} host clients in their handshake of at most {@link #MAX_LINE} bytes.
 *
 * <p>Not thread-safe: the device serializes every call, including the socket event handlers.
 */
final class HybridVsockMuxer {
    static final long HOST_CID = 2;
    static final int MAX_CONNECTIONS = 1024;
    static final int MAX_CONTROL = 1024;
    static final int MAX_CLIENTS = 64;
    static final int MAX_LINE = 32;
    static final int MAX_PAYLOAD = 64 * 1024;
    static final int HOST_PORT_FIRST = 1 << 30;

    private final VsockConfig config;
    private final UnixSocket listener;
    private final Map<Long, VsockConnection> connections = new HashMap<>();
    private final ArrayDeque<VsockHeader> control = new ArrayDeque<>();
    private final LinkedHashSet<VsockConnection> ready = new LinkedHashSet<>();
    private final Map<Fd, HostClient> clients = new IdentityHashMap<>();
    private final byte[] scratch = new byte[MAX_PAYLOAD];
    private EventRegistry events;
    private Runnable wake;
    private int nextHostPort = HOST_PORT_FIRST;
    private long resets;

    /** A host client that has connected and not yet finished its CONNECT line. */
    private static final class HostClient {
        final UnixSocket socket;
        final byte[] line = new byte[MAX_LINE];
        int have;

        HostClient(UnixSocket socket) {
            this.socket = socket;
        }
    }

    /** Listens on the configured socket at once, so host clients may connect before the guest runs. */
    HybridVsockMuxer(VsockConfig config) {
        this.config = config;
        this.listener = UnixSocket.listen(config.socket(), 128);
        listener.fd().setNonBlocking(true);
    }

    void activate(EventRegistry events, Runnable wake) {
        this.events = events;
        this.wake = wake;
        events.add(listener.fd(), Epoll.EPOLLIN, ev -> onAccept());
    }

    /** Drops every connection and client (their host sockets see end of stream). */
    void reset() {
        if (events != null) {
            events.remove(listener.fd());
            for (HostClient c : new ArrayList<>(clients.values())) {
                dropClient(c);
            }
            for (VsockConnection c : new ArrayList<>(connections.values())) {
                close(c, false);
            }
        }
        connections.clear();
        clients.clear();
        control.clear();
        ready.clear();
        events = null;
        wake = null;
    }

    void close() {
        reset();
        listener.close();
        try {
            Files.deleteIfExists(config.socket());
        } catch (IOException e) {
            // a stale socket file is replaced by the next listen of the same path only after removal; leave it
        }
    }

    int connectionCount() {
        return connections.size();
    }

    long resets() {
        return resets;
    }

    /** Whether the control queue is full: the device stops taking guest packets meanwhile. */
    boolean controlFull() {
        return control.size() >= MAX_CONTROL;
    }

    // ---------------------------------------------------------------- host clients

    private void onAccept() {
        while (true) {
            UnixSocket s;
            try {
                s = listener.accept();
            } catch (ErrnoException e) {
                return; // EAGAIN: no more waiting; anything else: try again on the next event
            }
            if (clients.size() >= MAX_CLIENTS) {
                s.close();
                continue;
            }
            try {
                s.fd().setNonBlocking(true);
                HostClient c = new HostClient(s);
                clients.put(s.fd(), c);
                events.add(s.fd(), Epoll.EPOLLIN, ev -> onHandshake(c));
            } catch (LinuxException e) {
                clients.remove(s.fd());
                s.close();
            }
        }
    }

    private void onHandshake(HostClient c) {
        int n;
        try {
            n = c.socket.fd().read(c.line, c.have, MAX_LINE - c.have);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EAGAIN) {
                return;
            }
            dropClient(c);
            return;
        }
        if (n < 0) {
            dropClient(c);
            return;
        }
        c.have += n;
        int newline = -1;
        for (int i = 0; i < c.have; i++) {
            if (c.line[i] == '\n') {
                newline = i;
                break;
            }
        }
        if (newline < 0) {
            if (c.have == MAX_LINE) {
                dropClient(c); // no CONNECT line fits: not a hybrid vsock client
            }
            return;
        }
        long port = parseConnect(new String(c.line, 0, newline, StandardCharsets.US_ASCII));
        if (port < 0 || connections.size() >= MAX_CONNECTIONS) {
            dropClient(c);
            return;
        }
        events.remove(c.socket.fd());
        clients.remove(c.socket.fd());
        int hostPort = allocateHostPort((int) port);
        VsockConnection conn = new VsockConnection(hostPort, (int) port, c.socket, true, VsockConnection.State.CONNECTING);
        if (c.have > newline + 1) {
            conn.early = java.util.Arrays.copyOfRange(c.line, newline + 1, c.have);
        }
        connections.put(conn.key(), conn);
        // until the guest answers, only a hang-up matters (epoll reports it whatever we ask for)
        events.add(conn.socket.fd(), 0, ev -> onConnectionEvent(conn, ev));
        control.add(header(conn, VsockHeader.OP_REQUEST, 0));
        wake.run();
    }

    /** {@code CONNECT <port>} with a decimal u32 port, else -1. */
    static long parseConnect(String line) {
        if (!line.startsWith("CONNECT ")) {
            return -1;
        }
        String digits = line.substring(8).strip();
        if (digits.isEmpty() || digits.length() > 10 || !digits.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
            return -1;
        }
        long port = Long.parseLong(digits);
        return port > 0xFFFF_FFFFL ? -1 : port;
    }

    private int allocateHostPort(int peerPort) {
        while (true) {
            int p = nextHostPort;
            nextHostPort = nextHostPort == -1 ? HOST_PORT_FIRST : nextHostPort + 1;
            if (!connections.containsKey(VsockConnection.key(p, peerPort))) {
                return p;
            }
        }
    }

    private void dropClient(HostClient c) {
        clients.remove(c.socket.fd());
        events.remove(c.socket.fd());
        c.socket.close();
    }

    // ---------------------------------------------------------------- guest packets

    /**
     * A packet the guest sent, its header validated by the device (source CID is the guest's,
     * destination the host, {@code len} within the chain and {@link #MAX_PAYLOAD}).
     */
    void fromGuest(VsockHeader h, List<MemorySegment> payload) {
        if (h.type() != VsockHeader.TYPE_STREAM) {
            rst(h);
            return;
        }
        VsockConnection c = connections.get(VsockConnection.key(h.dstPort(), h.srcPort()));
        switch (h.op()) {
            case VsockHeader.OP_REQUEST -> {
                if (c != null) {
                    close(c, false); // a stale connection with the same ports: the guest starts anew
                }
                connectToHost(h);
            }
            case VsockHeader.OP_RESPONSE -> {
                if (c == null || c.state != VsockConnection.State.CONNECTING) {
                    if (c != null) {
                        close(c, false);
                    }
                    rst(h);
                    return;
                }
                c.peerCredit(h.bufAlloc(), h.fwdCnt());
                c.state = VsockConnection.State.ESTABLISHED;
                byte[] ok = ("OK " + Integer.toUnsignedString(c.localPort) + "\n").getBytes(StandardCharsets.US_ASCII);
                if (!c.sendLineToHost(ok)) {
                    close(c, true);
                    return;
                }
                c.hostReadable = true; // the client may have written already
                updateWatch(c);
                updateReady(c);
            }
            case VsockHeader.OP_RST -> {
                if (c != null) {
                    close(c, false);
                }
            }
            case VsockHeader.OP_SHUTDOWN -> {
                if (c == null) {
                    rst(h);
                    return;
                }
                c.peerCredit(h.bufAlloc(), h.fwdCnt());
                c.peerNoReceive |= (h.flags() & VsockHeader.SHUTDOWN_RCV) != 0;
                c.peerNoSend |= (h.flags() & VsockHeader.SHUTDOWN_SEND) != 0;
                if (c.peerNoReceive && c.peerNoSend) {
                    c.flushToHost(); // best effort: what the host socket takes now
                    close(c, true);  // the peer answers a full shutdown with RST
                    return;
                }
                if (c.peerNoSend && !c.hasPendingToHost()) {
                    shutdownHostWrite(c);
                }
                updateWatch(c);
                updateReady(c);
            }
            case VsockHeader.OP_RW -> {
                if (c == null || c.state != VsockConnection.State.ESTABLISHED || c.peerNoSend) {
                    rst(h);
                    if (c != null) {
                        close(c, false);
                    }
                    return;
                }
                c.peerCredit(h.bufAlloc(), h.fwdCnt());
                long len = h.length();
                if (len > c.ourCredit()) {
                    close(c, true); // beyond the credit we gave: a protocol violation
                    return;
                }
                byte[] data = new byte[(int) len];
                Buffers.read(payload, 0, data);
                if (!c.sendToHost(data)) {
                    hostGone(c);
                    return;
                }
                if (c.creditUpdateDue()) {
                    control.add(header(c, VsockHeader.OP_CREDIT_UPDATE, 0));
                }
                updateWatch(c);
                updateReady(c);
            }
            case VsockHeader.OP_CREDIT_UPDATE -> {
                if (c == null) {
                    rst(h);
                    return;
                }
                c.peerCredit(h.bufAlloc(), h.fwdCnt());
                updateReady(c);
            }
            case VsockHeader.OP_CREDIT_REQUEST -> {
                if (c == null) {
                    rst(h);
                    return;
                }
                c.peerCredit(h.bufAlloc(), h.fwdCnt());
                control.add(header(c, VsockHeader.OP_CREDIT_UPDATE, 0));
                updateReady(c);
            }
            default -> rst(h);
        }
    }

    private void connectToHost(VsockHeader h) {
        if (connections.size() >= MAX_CONNECTIONS) {
            rst(h);
            return;
        }
        UnixSocket s;
        try {
            s = UnixSocket.connect(config.listenerFor(Integer.toUnsignedLong(h.dstPort())));
        } catch (LinuxException e) {
            rst(h); // nothing listens on <socket>_<port>
            return;
        }
        VsockConnection c = new VsockConnection(h.dstPort(), h.srcPort(), s, false, VsockConnection.State.ESTABLISHED);
        try {
            s.fd().setNonBlocking(true);
            events.add(s.fd(), Epoll.EPOLLIN, ev -> onConnectionEvent(c, ev));
        } catch (LinuxException e) {
            s.close();
            rst(h);
            return;
        }
        c.watching = Epoll.EPOLLIN;
        c.peerCredit(h.bufAlloc(), h.fwdCnt());
        connections.put(c.key(), c);
        control.add(header(c, VsockHeader.OP_RESPONSE, 0));
    }

    // ---------------------------------------------------------------- host socket events

    private void onConnectionEvent(VsockConnection c, int ev) {
        if (connections.get(c.key()) != c) {
            return; // closed meanwhile
        }
        if ((ev & (Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0) {
            if (c.state == VsockConnection.State.CONNECTING) {
                close(c, true); // the client gave up before the guest answered
                wake.run();
                return;
            }
            // the peer is gone both ways: stop watching (epoll would report the hang-up forever),
            // read what is left, then tell the guest
            events.remove(c.socket.fd());
            c.watching = -1;
            if (c.hostEof) {
                hostGone(c); // its end of stream was already passed on: now the rest of it
                wake.run();
                return;
            }
            c.hostReadable = true;
            updateReady(c);
            wake.run();
            return;
        }
        if ((ev & Epoll.EPOLLOUT) != 0) {
            if (!c.flushToHost()) {
                hostGone(c);
                wake.run();
                return;
            }
            if (!c.hasPendingToHost() && c.peerNoSend) {
                shutdownHostWrite(c);
            }
            if (c.creditUpdateDue()) {
                control.add(header(c, VsockHeader.OP_CREDIT_UPDATE, 0));
            }
        }
        if ((ev & Epoll.EPOLLIN) != 0) {
            c.hostReadable = true;
        }
        updateWatch(c);
        updateReady(c);
        wake.run();
    }

    /** The host socket cannot be written any more: drop what it did not take, tell the guest. */
    private void hostGone(VsockConnection c) {
        c.hostEof = true;
        control.add(header(c, VsockHeader.OP_SHUTDOWN, VsockHeader.SHUTDOWN_RCV | VsockHeader.SHUTDOWN_SEND));
        c.state = VsockConnection.State.CLOSING;
        ready.remove(c);
        updateWatch(c);
    }

    private void shutdownHostWrite(VsockConnection c) {
        try {
            c.socket.shutdown(1); // SHUT_WR: the host reader sees end of stream
        } catch (LinuxException e) {
            // already disconnected: the next read reports it
        }
    }

    private void updateWatch(VsockConnection c) {
        if (c.watching < 0 || connections.get(c.key()) != c) {
            return; // unregistered after a hang-up, or closed
        }
        boolean established = c.state == VsockConnection.State.ESTABLISHED;
        int want = (established && !c.hostReadable && !c.hostEof && !c.peerNoReceive ? Epoll.EPOLLIN : 0)
                | (c.hasPendingToHost() ? Epoll.EPOLLOUT : 0);
        if (want != c.watching) {
            events.modify(c.socket.fd(), want);
            c.watching = want;
        }
    }

    private void updateReady(VsockConnection c) {
        if (c.wantsToSend()) {
            ready.add(c);
        } else {
            ready.remove(c);
            if (c.state == VsockConnection.State.ESTABLISHED && c.hostReadable && !c.hostEof && !c.peerNoReceive
                    && c.peerCredit() == 0 && !c.creditRequested) {
                c.creditRequested = true; // data waits for credit: ask once
                control.add(header(c, VsockHeader.OP_CREDIT_REQUEST, 0));
            }
        }
    }

    // ---------------------------------------------------------------- packets to the guest

    /** Whether a packet waits for a guest receive buffer. */
    boolean hasPendingRx() {
        return !control.isEmpty() || !ready.isEmpty();
    }

    /**
     * Writes the next packet for the guest into {@code buffer} (a receive chain's writable part,
     * at least a header long); returns its length, 0 when there is none.
     */
    long fillRx(List<MemorySegment> buffer) {
        long room = Buffers.length(buffer) - VsockHeader.BYTES;
        while (true) {
            VsockHeader h = control.poll();
            if (h != null) {
                Buffers.write(buffer, 0, h.encode(), 0, VsockHeader.BYTES);
                return VsockHeader.BYTES;
            }
            if (ready.isEmpty()) {
                return 0;
            }
            VsockConnection c = ready.removeFirst();
            if (!c.wantsToSend()) {
                updateReady(c);
                continue;
            }
            int max = (int) Math.min(Math.min(room, c.peerCredit()), MAX_PAYLOAD);
            if (max <= 0) {
                ready.add(c);
                return 0; // a buffer with no room beyond the header: nothing to put in it
            }
            int n;
            if (c.early != null) {
                n = Math.min(max, c.early.length);
                System.arraycopy(c.early, 0, scratch, 0, n);
                c.early = n == c.early.length ? null : java.util.Arrays.copyOfRange(c.early, n, c.early.length);
            } else {
                try {
                    n = c.socket.fd().read(scratch, 0, max);
                } catch (ErrnoException e) {
                    n = e.errno() == Errno.EAGAIN ? 0 : -1;
                } catch (LinuxException e) {
                    n = -1;
                }
                if (n == 0) {
                    c.hostReadable = false; // drained: watch for more
                    updateWatch(c);
                    continue;
                }
                if (n < 0) {
                    hostEof(c);
                    continue;
                }
            }
            Buffers.write(buffer, 0, header(c, VsockHeader.OP_RW, 0, n).encode(), 0, VsockHeader.BYTES);
            Buffers.write(buffer, VsockHeader.BYTES, scratch, 0, n);
            c.txCnt += n;
            updateReady(c); // to the back of the round robin if it has more
            return VsockHeader.BYTES + n;
        }
    }

    /** The host socket reached end of stream: the host sends no more. */
    private void hostEof(VsockConnection c) {
        c.hostEof = true;
        c.hostReadable = false;
        ready.remove(c);
        boolean hungUp = c.watching < 0;
        int flags = VsockHeader.SHUTDOWN_SEND | (hungUp ? VsockHeader.SHUTDOWN_RCV : 0);
        control.add(header(c, VsockHeader.OP_SHUTDOWN, flags));
        if (hungUp || c.peerNoSend) {
            c.state = VsockConnection.State.CLOSING; // both directions over: the guest answers RST
        }
        updateWatch(c);
    }

    private VsockHeader header(VsockConnection c, int op, int flags) {
        return header(c, op, flags, 0);
    }

    private VsockHeader header(VsockConnection c, int op, int flags, int len) {
        c.lastAdvertisedFwdCnt = c.fwdCnt;
        return new VsockHeader(HOST_CID, config.guestCid(), c.localPort, c.peerPort, len, VsockHeader.TYPE_STREAM, op,
                flags, VsockConnection.BUF_ALLOC, c.fwdCnt);
    }

    /** A RST answering a packet that belongs to no connection of ours. */
    private void rst(VsockHeader h) {
        resets++;
        control.add(new VsockHeader(HOST_CID, config.guestCid(), h.dstPort(), h.srcPort(), 0, VsockHeader.TYPE_STREAM,
                VsockHeader.OP_RST, 0, 0, 0));
    }

    private void close(VsockConnection c, boolean sendRst) {
        connections.remove(c.key());
        ready.remove(c);
        if (c.watching >= 0) {
            events.remove(c.socket.fd());
        }
        c.socket.close();
        if (sendRst) {
            resets++;
            control.add(header(c, VsockHeader.OP_RST, 0));
        }
    }
}
