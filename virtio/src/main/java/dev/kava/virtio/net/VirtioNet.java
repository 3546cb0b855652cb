package dev.kava.virtio.net;

import dev.kava.linux.Epoll;
import dev.kava.linux.LinuxException;
import dev.kava.linux.Tap;
import dev.kava.virtio.device.ActiveQueue;
import dev.kava.virtio.device.Buffers;
import dev.kava.virtio.device.DeviceContext;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.device.Features;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.queue.DescriptorChain;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * virtio-net (virtio 1.2 §5.1) with one receive and one transmit queue, backed by a
 * {@link NetBackend} (a tap in the sandbox's network namespace).
 *
 * <h2>Offloads</h2>
 * The 12-byte virtio net header travels unchanged between the guest and the tap, which speaks
 * the same header: what the guest can take (GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN) becomes the
 * tap's {@code TUNSETOFFLOAD}, and what the guest may send (CSUM, HOST_TSO4/6, HOST_ECN) the tap's
 * kernel side finishes. With MRG_RXBUF a received frame may span several receive chains, and
 * {@code num_buffers} says how many.
 *
 * <h2>Flow</h2>
 * Receive: a frame is read from the back-end into a host buffer of one maximal frame, then copied
 * into the guest's receive chains; while the guest has no (or not enough) buffers the frame waits
 * and the back-end is not read (no busy loop: the descriptor is unwatched until the guest posts
 * buffers). Transmit: the readable part of a chain is written to the back-end directly from guest
 * memory; when the back-end is full the chain waits for EPOLLOUT.
 *
 * <h2>The guest is hostile</h2>
 * A transmit chain shorter than the header, longer than {@link #MAX_FRAME} plus the header, or
 * with device-writable buffers is dropped (used length 0, counted); a header the host kernel
 * refuses (impossible GSO or checksum offsets) is dropped likewise. A receive chain with readable
 * buffers is refused by the ring rules. Without MRG_RXBUF, a frame that does not fit the offered
 * receive chain is dropped and the chain kept.
 */
public final class VirtioNet implements VirtioDevice {
    public static final int RECEIVE_QUEUE = 0;
    public static final int TRANSMIT_QUEUE = 1;
    /** Feature bits. */
    public static final int F_CSUM = 0;
    public static final int F_GUEST_CSUM = 1;
    public static final int F_MAC = 5;
    public static final int F_GUEST_TSO4 = 7;
    public static final int F_GUEST_TSO6 = 8;
    public static final int F_GUEST_ECN = 9;
    public static final int F_GUEST_UFO = 10;
    public static final int F_HOST_TSO4 = 11;
    public static final int F_HOST_TSO6 = 12;
    public static final int F_HOST_ECN = 13;
    public static final int F_HOST_UFO = 14;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;
    public static final int F_CTRL_VQ = 17;
    /** Config status bit. */
    public static final int S_LINK_UP = 1;
    /** Header flags and GSO types. */
    public static final int HDR_F_NEEDS_CSUM = 1;
    public static final int HDR_F_DATA_VALID = 2;
    public static final int HDR_GSO_NONE = 0;
    public static final int HDR_GSO_TCPV4 = 1;
    public static final int HDR_GSO_UDP = 3;
    public static final int HDR_GSO_TCPV6 = 4;
    public static final int HDR_GSO_ECN = 0x80;
    /** Bytes of {@code struct virtio_net_hdr_v1} (with num_buffers). */
    public static final int HEADER_BYTES = 12;
    /** Largest frame after the header: 64 KiB of GSO payload plus an Ethernet header and a VLAN tag. */
    public static final int MAX_FRAME = 65536 + 14 + 4;
    /** mac[6], status u16, max_virtqueue_pairs u16, mtu u16. */
    public static final int CONFIG_SIZE = 12;
    public static final int QUEUE_SIZE = 256;
    static final int NUM_BUFFERS_OFFSET = 10;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final NetBackend backend;
    private final byte[] mac;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment frame = arena.allocate(HEADER_BYTES + MAX_FRAME, 16);
    private final List<DescriptorChain> heldRx = new ArrayList<>();
    private DeviceContext context;
    private ActiveQueue rx;
    private ActiveQueue tx;
    private boolean mergeable;
    private long pending = -1;
    private boolean rxPaused;
    private DescriptorChain txBlocked;
    private long framesIn;
    private long framesOut;
    private long dropsIn;
    private long dropsOut;

    /** A device with MAC address {@code mac} (6 bytes) on {@code backend}, which it owns. */
    public VirtioNet(NetBackend backend, byte[] mac) {
        this.backend = Objects.requireNonNull(backend, "backend");
        if (mac.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes, not " + mac.length);
        }
        this.mac = mac.clone();
    }

    @Override
    public DeviceType type() {
        return DeviceType.NET;
    }

    @Override
    public long deviceFeatures() {
        long f = 0;
        for (int bit : new int[] {F_CSUM, F_GUEST_CSUM, F_MAC, F_GUEST_TSO4, F_GUEST_TSO6, F_GUEST_ECN,
                F_HOST_TSO4, F_HOST_TSO6, F_HOST_ECN, F_MRG_RXBUF, F_STATUS}) {
            f |= Features.bit(bit);
        }
        return f;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int maxQueueSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public void readConfig(int offset, byte[] dst) {
        byte[] c = new byte[CONFIG_SIZE];
        System.arraycopy(mac, 0, c, 0, 6);
        c[6] = S_LINK_UP;           // status
        c[8] = 1;                   // max_virtqueue_pairs
        c[10] = (byte) (1500 & 0xff);
        c[11] = (byte) (1500 >> 8); // mtu (F_MTU not offered)
        System.arraycopy(c, offset, dst, 0, dst.length);
    }

    @Override
    public void writeConfig(int offset, byte[] src) {
        // the MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR; nothing else is writable
    }

    @Override
    public boolean acceptsFeatures(long f) {
        // the spec's dependencies (§5.1.3.1): TSO/ECN need checksum offload in the same direction
        boolean guestTso = Features.has(f, F_GUEST_TSO4) || Features.has(f, F_GUEST_TSO6);
        boolean hostTso = Features.has(f, F_HOST_TSO4) || Features.has(f, F_HOST_TSO6);
        if ((guestTso || Features.has(f, F_GUEST_ECN)) && !Features.has(f, F_GUEST_CSUM)) {
            return false;
        }
        if (Features.has(f, F_GUEST_ECN) && !guestTso) {
            return false;
        }
        if ((hostTso || Features.has(f, F_HOST_ECN)) && !Features.has(f, F_CSUM)) {
            return false;
        }
        return !Features.has(f, F_HOST_ECN) || hostTso;
    }

    @Override
    public void activate(DeviceContext context) {
        this.context = context;
        this.rx = context.queue(RECEIVE_QUEUE);
        this.tx = context.queue(TRANSMIT_QUEUE);
        this.mergeable = context.has(F_MRG_RXBUF);
        int offload = 0;
        if (context.has(F_GUEST_CSUM)) {
            offload |= Tap.TUN_F_CSUM;
            if (context.has(F_GUEST_TSO4)) {
                offload |= Tap.TUN_F_TSO4;
            }
            if (context.has(F_GUEST_TSO6)) {
                offload |= Tap.TUN_F_TSO6;
            }
            if (context.has(F_GUEST_ECN)) {
                offload |= Tap.TUN_F_TSO_ECN;
            }
        }
        try {
            backend.setOffload(offload);
        } catch (LinuxException e) {
            context.interrupt().needsReset("net: cannot set the back-end's offloads: " + e.getMessage());
            return;
        }
        rxPaused = false;
        context.events().add(backend.fd(), Epoll.EPOLLIN, this::onBackendReady);
    }

    @Override
    public void queueNotify(int queue) {
        if (context == null) {
            return;
        }
        if (queue == TRANSMIT_QUEUE) {
            transmit();
        } else if (queue == RECEIVE_QUEUE && rxPaused) {
            rxPaused = false;
            watch();
            receive();
        }
    }

    private void onBackendReady(int events) {
        if ((events & Epoll.EPOLLOUT) != 0 && txBlocked != null) {
            transmit();
        }
        if ((events & (Epoll.EPOLLIN | Epoll.EPOLLERR | Epoll.EPOLLHUP)) != 0 && !rxPaused) {
            receive();
        }
    }

    private void watch() {
        int events = (rxPaused ? 0 : Epoll.EPOLLIN) | (txBlocked != null ? Epoll.EPOLLOUT : 0);
        context.events().modify(backend.fd(), events);
    }

    // ---------------------------------------------------------------- receive

    private void receive() {
        boolean delivered = false;
        while (true) {
            if (pending < 0) {
                long n;
                try {
                    n = backend.read(List.of(frame));
                } catch (LinuxException e) {
                    n = -1;
                    dropsIn++;
                }
                if (n < 0) {
                    break;
                }
                if (n < HEADER_BYTES + 14) {
                    dropsIn++;
                    continue;
                }
                pending = n;
            }
            int result = deliver();
            if (result < 0) {
                rxPaused = true; // not enough guest buffers: stop reading until it posts more
                watch();
                break;
            }
            delivered |= result > 0;
            pending = -1;
        }
        if (delivered) {
            rx.notifyDriver();
        }
    }

    /** Puts the pending frame into guest buffers: 1 delivered, 0 dropped, -1 not enough buffers. */
    private int deliver() {
        long len = pending;
        if (!mergeable) {
            DescriptorChain c = heldRx.isEmpty() ? rx.pop() : heldRx.removeFirst();
            if (c == null) {
                return -1;
            }
            if (c.writableLength() < len) {
                heldRx.addFirst(c); // too small for this frame: drop the frame, keep the buffer
                dropsIn++;
                return 0;
            }
            frame.set(U16, NUM_BUFFERS_OFFSET, (short) 1);
            Buffers.write(c.writable(), 0, frame.asSlice(0, len));
            rx.complete(c, len);
            framesIn++;
            return 1;
        }
        long room = 0;
        int needed = 0;
        for (DescriptorChain c : heldRx) {
            if (room >= len) {
                break;
            }
            room += c.writableLength();
            needed++;
        }
        while (room < len) {
            DescriptorChain c = rx.pop();
            if (c == null) {
                return -1;
            }
            if (c.writableLength() == 0) {
                rx.complete(c, 0);
                continue;
            }
            heldRx.add(c);
            room += c.writableLength();
            needed++;
        }
        if (needed > 0xffff) {
            dropsIn++;
            return 0;
        }
        frame.set(U16, NUM_BUFFERS_OFFSET, (short) needed);
        long offset = 0;
        for (int i = 0; i < needed; i++) {
            DescriptorChain c = heldRx.removeFirst();
            long n = Math.min(c.writableLength(), len - offset);
            Buffers.write(c.writable(), 0, frame.asSlice(offset, n));
            offset += n;
            rx.complete(c, n);
        }
        framesIn++;
        return 1;
    }

    // ---------------------------------------------------------------- transmit

    private void transmit() {
        boolean completed = false;
        while (true) {
            DescriptorChain c = txBlocked != null ? txBlocked : tx.pop();
            if (c == null) {
                break;
            }
            boolean wasBlocked = txBlocked != null;
            txBlocked = null;
            if (c.readableLength() < HEADER_BYTES + 14 || c.readableLength() > HEADER_BYTES + MAX_FRAME
                    || c.writableLength() != 0) {
                dropsOut++;
            } else {
                long r;
                try {
                    r = backend.write(c.readable());
                } catch (LinuxException e) {
                    r = 0; // refused (a bad header): dropped
                    dropsOut++;
                }
                if (r < 0) {
                    txBlocked = c; // the back-end is full: wait for EPOLLOUT with this chain held
                    watch();
                    break;
                }
                if (r > 0) {
                    framesOut++;
                }
            }
            tx.complete(c, 0);
            completed = true;
            if (wasBlocked) {
                watch();
            }
        }
        if (completed) {
            tx.notifyDriver();
        }
    }

    /** Frames delivered to the guest, sent for it, and dropped each way. */
    public long framesIn() {
        return framesIn;
    }

    public long framesOut() {
        return framesOut;
    }

    public long dropsIn() {
        return dropsIn;
    }

    public long dropsOut() {
        return dropsOut;
    }

    @Override
    public void reset() {
        if (context != null) {
            context.events().remove(backend.fd());
        }
        context = null;
        rx = null;
        tx = null;
        heldRx.clear();
        pending = -1;
        txBlocked = null;
        rxPaused = false;
    }

    @Override
    public void close() {
        reset();
        backend.close();
        arena.close();
    }
}
