package dev.kava.virtio.vsock;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.LinuxException;
import dev.kava.linux.UnixSocket;
import java.util.ArrayDeque;

/**
 * One stream between a guest vsock socket and a host unix socket, with virtio-vsock's
 * credit-based flow control (virtio 1.2 §5.10.6.3) on both sides.
 *
 * <p>Toward the guest we advertise {@link #BUF_ALLOC} bytes of buffer and count what we forwarded
 * to the host socket ({@code fwdCnt}); a guest sending beyond that credit breaks the protocol and
 * is answered with RST. Bytes the host socket cannot take at once wait in {@code toHost}, which
 * the credit bounds. Toward the guest we send at most the guest's advertised
 * {@code peerBufAlloc - (txCnt - peerFwdCnt)}; with no credit left the host socket is not read.
 * All counters are u32 arithmetic, as on the wire.
 */
final class VsockConnection {
    /** Receive buffer we advertise per connection: the most guest bytes we hold for the host. */
    static final int BUF_ALLOC = 256 * 1024;

    enum State {
        /** We sent REQUEST for a host client, waiting for the guest's RESPONSE. */
        CONNECTING,
        /** Data flows. */
        ESTABLISHED,
        /** We told the guest we are done (SHUTDOWN both ways); waiting for its RST. */
        CLOSING
    }

    final int localPort;
    final int peerPort;
    final UnixSocket socket;
    final boolean hostInitiated;
    State state;
    /** Guest credit as last reported. */
    int peerBufAlloc;
    int peerFwdCnt;
    /** Bytes sent to the guest. */
    int txCnt;
    /** Bytes received from the guest. */
    int rxCnt;
    /** Of those, bytes written to the host socket. */
    int fwdCnt;
    /** fwdCnt when we last told the guest. */
    int lastAdvertisedFwdCnt;
    /** Guest bytes the host socket has not taken yet. */
    private final ArrayDeque<byte[]> toHost = new ArrayDeque<>();
    private int toHostHead;
    /** Bytes at the head of {@code toHost} that are ours (the OK line), not guest data: not counted. */
    private int uncounted;
    /** Host bytes that arrived with the CONNECT line, for the guest once established. */
    byte[] early;
    /** The host socket may have bytes to read (epoll said so; no EAGAIN since). */
    boolean hostReadable;
    /** The host socket reached end of stream. */
    boolean hostEof;
    /** The guest will not receive / send any more (its SHUTDOWN flags). */
    boolean peerNoReceive;
    boolean peerNoSend;
    /** We asked the guest for credit and have not heard since. */
    boolean creditRequested;
    /** Events the host socket is registered for right now. */
    int watching;

    VsockConnection(int localPort, int peerPort, UnixSocket socket, boolean hostInitiated, State state) {
        this.localPort = localPort;
        this.peerPort = peerPort;
        this.socket = socket;
        this.hostInitiated = hostInitiated;
        this.state = state;
    }

    static long key(int localPort, int peerPort) {
        return (Integer.toUnsignedLong(localPort) << 32) | Integer.toUnsignedLong(peerPort);
    }

    long key() {
        return key(localPort, peerPort);
    }

    /** Takes the guest's credit fields from any packet of this connection. */
    void peerCredit(int bufAlloc, int fwdCntOfPeer) {
        this.peerBufAlloc = bufAlloc;
        this.peerFwdCnt = fwdCntOfPeer;
        this.creditRequested = false;
    }

    /** Bytes we may still send to the guest (0 when none). */
    long peerCredit() {
        long inFlight = Integer.toUnsignedLong(txCnt - peerFwdCnt);
        long alloc = Integer.toUnsignedLong(peerBufAlloc);
        return Math.max(0, alloc - inFlight);
    }

    /** Bytes the guest may still send us. */
    long ourCredit() {
        return BUF_ALLOC - Integer.toUnsignedLong(rxCnt - fwdCnt);
    }

    boolean hasPendingToHost() {
        return !toHost.isEmpty();
    }

    /**
     * Forwards guest bytes toward the host socket: writes what it takes now, keeps the rest.
     * Returns false when the host side is broken (the caller resets the connection).
     */
    boolean sendToHost(byte[] data) {
        rxCnt += data.length;
        if (data.length == 0) {
            return true;
        }
        toHost.add(data);
        return flushToHost();
    }

    /** Queues a line of our own for the host socket (the handshake's OK), outside the credit counters. */
    boolean sendLineToHost(byte[] line) {
        toHost.add(line);
        uncounted += line.length;
        return flushToHost();
    }

    /** Writes queued guest bytes to the host socket; false when it is broken. */
    boolean flushToHost() {
        while (!toHost.isEmpty()) {
            byte[] head = toHost.peekFirst();
            int n;
            try {
                n = socket.send(head, toHostHead, head.length - toHostHead);
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EAGAIN) {
                    return true;
                }
                return false;
            } catch (LinuxException e) {
                return false;
            }
            int ours = Math.min(n, uncounted);
            uncounted -= ours;
            fwdCnt += n - ours;
            toHostHead += n;
            if (toHostHead == head.length) {
                toHost.removeFirst();
                toHostHead = 0;
            }
        }
        return true;
    }

    /**
     * Whether the guest should hear about our forwarded bytes now: a quarter of the buffer was
     * freed since it last heard. A guest out of credit has {@link #BUF_ALLOC} bytes in flight, so
     * forwarding them always gets it an update; every packet we send carries fwdCnt as well.
     */
    boolean creditUpdateDue() {
        return Integer.toUnsignedLong(fwdCnt - lastAdvertisedFwdCnt) >= BUF_ALLOC / 4;
    }

    /** Whether the connection has data for the guest and may send it. */
    boolean wantsToSend() {
        return state == State.ESTABLISHED && !peerNoReceive && peerCredit() > 0
                && ((hostReadable && !hostEof) || early != null);
    }

    @Override
    public String toString() {
        return "VsockConnection[host " + Integer.toUnsignedString(localPort) + " <-> guest "
                + Integer.toUnsignedString(peerPort) + ", " + state + "]";
    }
}
