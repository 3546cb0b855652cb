package dev.kava.virtio.vsock;

import dev.kava.virtio.device.ActiveQueue;
import dev.kava.virtio.device.Buffers;
import dev.kava.virtio.device.DeviceContext;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.queue.DescriptorChain;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * virtio-vsock (virtio 1.2 §5.10), stream sockets only, with a hybrid vsock host side
 * ({@link HybridVsockMuxer}): the host reaches guest ports through one unix socket, guest
 * connections to the host land on unix sockets next to it. This is how the runtime reaches the
 * guest agent (vsock port 1024) under the built-in VMM.
 *
 * <h2>Queues</h2>
 * 0 receive (device to guest), 1 transmit (guest to device), 2 event (transport events; the
 * device keeps the buffers posted there, it has no events to send). One packet per chain: a
 * 44-byte header then its payload.
 *
 * <h2>The guest is hostile</h2>
 * A transmit chain shorter than a header, whose header claims more payload than the chain holds
 * or than {@value HybridVsockMuxer#MAX_PAYLOAD} bytes, whose source CID is not the guest's own (no
 * spoofing other VMs or the host) or whose destination is not the host, is dropped. Packets for
 * no connection, of unknown operations or types are answered with RST. Flow control and every
 * bound are the muxer's (see {@link HybridVsockMuxer}).
 */
public final class VirtioVsock implements VirtioDevice {
    public static final int RECEIVE_QUEUE = 0;
    public static final int TRANSMIT_QUEUE = 1;
    public static final int EVENT_QUEUE = 2;
    /** guest_cid, a le64. */
    public static final int CONFIG_SIZE = 8;
    public static final int QUEUE_SIZE = 256;

    private final VsockConfig config;
    private final HybridVsockMuxer muxer;
    private ActiveQueue rx;
    private ActiveQueue tx;
    private DescriptorChain heldRx;
    private boolean txStalled;
    private long droppedPackets;

    /** Creates the device and starts listening on {@link VsockConfig#socket()} (which must not exist). */
    public VirtioVsock(VsockConfig config) {
        this.config = config;
        this.muxer = new HybridVsockMuxer(config);
    }

    public VsockConfig config() {
        return config;
    }

    @Override
    public DeviceType type() {
        return DeviceType.VSOCK;
    }

    @Override
    public long deviceFeatures() {
        return 0; // no VIRTIO_VSOCK_F_SEQPACKET: streams only
    }

    @Override
    public int queueCount() {
        return 3;
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
        byte[] c = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN).putLong(config.guestCid()).array();
        System.arraycopy(c, offset, dst, 0, dst.length);
    }

    @Override
    public void writeConfig(int offset, byte[] src) {
        // guest_cid is read-only
    }

    @Override
    public boolean acceptsFeatures(long features) {
        return true;
    }

    @Override
    public void activate(DeviceContext context) {
        rx = context.queue(RECEIVE_QUEUE);
        tx = context.queue(TRANSMIT_QUEUE);
        muxer.activate(context.events(), this::pumpRx);
    }

    @Override
    public void queueNotify(int queue) {
        if (rx == null) {
            return;
        }
        switch (queue) {
            case TRANSMIT_QUEUE -> processTx();
            case RECEIVE_QUEUE -> pumpRx();
            default -> {
                // event queue: buffers for events we never send
            }
        }
    }

    private void processTx() {
        boolean completed = false;
        while (true) {
            if (muxer.controlFull()) {
                txStalled = true; // the guest does not take our packets: stop taking its own
                break;
            }
            DescriptorChain c = tx.pop();
            if (c == null) {
                break;
            }
            handle(c);
            tx.complete(c, 0);
            completed = true;
        }
        if (completed) {
            tx.notifyDriver();
        }
        pumpRx();
    }

    private void handle(DescriptorChain c) {
        if (c.readableLength() < VsockHeader.BYTES) {
            droppedPackets++;
            return;
        }
        byte[] raw = new byte[VsockHeader.BYTES];
        Buffers.read(c.readable(), 0, raw);
        VsockHeader h = VsockHeader.decode(raw);
        long len = h.length();
        if (h.srcCid() != config.guestCid() || h.dstCid() != HybridVsockMuxer.HOST_CID
                || len > HybridVsockMuxer.MAX_PAYLOAD || len > c.readableLength() - VsockHeader.BYTES) {
            droppedPackets++;
            return;
        }
        List<MemorySegment> payload = Buffers.slice(c.readable(), VsockHeader.BYTES, len);
        muxer.fromGuest(h, payload);
    }

    /** Moves packets waiting for the guest into its receive buffers, as long as it has some. */
    private void pumpRx() {
        if (rx == null) {
            return;
        }
        boolean completed = false;
        while (muxer.hasPendingRx()) {
            DescriptorChain c = heldRx != null ? heldRx : rx.pop();
            heldRx = null;
            if (c == null) {
                break;
            }
            if (c.writableLength() < VsockHeader.BYTES) {
                rx.complete(c, 0); // cannot hold a header
                completed = true;
                continue;
            }
            long n = muxer.fillRx(c.writable());
            if (n == 0) {
                heldRx = c; // nothing to send after all: keep the buffer
                break;
            }
            rx.complete(c, n);
            completed = true;
        }
        if (completed) {
            rx.notifyDriver();
        }
        if (txStalled && !muxer.controlFull()) {
            txStalled = false;
            processTx();
        }
    }

    /** Host connections open right now. */
    public int connections() {
        return muxer.connectionCount();
    }

    /** Malformed guest packets dropped so far. */
    public long droppedPackets() {
        return droppedPackets;
    }

    /** RST packets sent to the guest so far. */
    public long resets() {
        return muxer.resets();
    }

    @Override
    public void reset() {
        muxer.reset();
        rx = null;
        tx = null;
        heldRx = null;
        txStalled = false;
    }

    /** Stops listening and removes the socket file. */
    @Override
    public void close() {
        reset();
        muxer.close();
    }
}
