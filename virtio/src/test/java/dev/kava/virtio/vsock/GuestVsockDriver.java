package dev.kava.virtio.vsock;

import dev.kava.virtio.device.DeviceHarness;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.driver.GuestDriver.Used;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The guest's vsock transport, simulated on the {@link GuestDriver}: posts receive buffers, sends
 * packets on the transmit queue and decodes what the device put in the receive buffers.
 */
final class GuestVsockDriver {
    static final long GUEST_CID = 42;
    static final int RX_BUFFER = VsockHeader.BYTES + 4096;

    record Packet(VsockHeader header, byte[] payload) {}

    private final DeviceHarness h;
    private final Map<Integer, Buffer> rxBuffers = new HashMap<>();
    private final ArrayDeque<Packet> received = new ArrayDeque<>();

    GuestVsockDriver(DeviceHarness h) {
        this.h = h;
    }

    /** Posts {@code n} receive buffers of {@link #RX_BUFFER} bytes and notifies. */
    void postRx(int n) {
        DriverQueue rx = h.queue(VirtioVsock.RECEIVE_QUEUE);
        for (int i = 0; i < n; i++) {
            Buffer b = h.driver().writable(RX_BUFFER);
            rxBuffers.put(rx.add(b), b);
        }
        h.notifyQueue(VirtioVsock.RECEIVE_QUEUE);
    }

    static VsockHeader header(int srcPort, int dstPort, int op, int flags, int len, int bufAlloc, int fwdCnt) {
        return new VsockHeader(GUEST_CID, 2, srcPort, dstPort, len, VsockHeader.TYPE_STREAM, op, flags, bufAlloc, fwdCnt);
    }

    /** Sends one packet (header and payload in two descriptors) and notifies the transmit queue. */
    void send(VsockHeader header, byte[] payload) {
        DriverQueue tx = h.queue(VirtioVsock.TRANSMIT_QUEUE);
        if (payload.length == 0) {
            tx.add(h.driver().readable(header.encode()));
        } else {
            tx.add(h.driver().readable(header.encode()), h.driver().readable(payload));
        }
        h.notifyQueue(VirtioVsock.TRANSMIT_QUEUE);
        while (tx.takeUsed() != null) {
            // transmit buffers come back with length 0
        }
    }

    void send(VsockHeader header) {
        send(header, new byte[0]);
    }

    /** Collects what the device wrote into receive buffers so far (pumping the loop once). */
    void poll() {
        h.pump(0);
        DriverQueue rx = h.queue(VirtioVsock.RECEIVE_QUEUE);
        Used u;
        while ((u = rx.takeUsed()) != null) {
            Buffer b = rxBuffers.remove(u.id());
            if (b == null) {
                throw new AssertionError("used id " + u.id() + " is not a receive buffer we posted");
            }
            byte[] bytes = h.driver().read(b.address(), u.length());
            VsockHeader hdr = VsockHeader.decode(bytes);
            if (hdr.length() != u.length() - VsockHeader.BYTES) {
                throw new AssertionError("used length " + u.length() + " does not match the header's len " + hdr.length());
            }
            received.add(new Packet(hdr, Arrays.copyOfRange(bytes, VsockHeader.BYTES, u.length())));
        }
    }

    /** The next packet from the device, pumping until there is one. */
    Packet next(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (received.isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no packet from the device within " + timeout.toMillis() + " ms");
            }
            poll();
            if (received.isEmpty()) {
                h.pump(5);
            }
        }
        return received.poll();
    }

    /** Whether no packet arrives within {@code millis}. */
    boolean quiet(int millis) {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (System.nanoTime() < deadline) {
            poll();
            if (!received.isEmpty()) {
                return false;
            }
            h.pump(5);
        }
        return true;
    }

    int posted() {
        return rxBuffers.size();
    }
}
