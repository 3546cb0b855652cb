package dev.kava.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.virtio.device.DeviceHarness;
import dev.kava.virtio.device.Features;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.driver.GuestDriver.Used;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * virtio-net against a real tap in a network namespace this test creates; a UDP socket in the same
 * namespace plays the host's network. Frames travel guest ⇄ tap ⇄ host stack for real.
 */
class VirtioNetTest {
    private static final Duration T = Duration.ofSeconds(5);
    private static final byte[] GUEST_MAC = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    private static final String HOST_IP = "10.202.0.1";
    private static final String GUEST_IP = "10.202.0.2";

    private NetNamespace ns;
    private VirtioNet device;
    private DeviceHarness h;
    private DatagramChannel host;
    private byte[] tapMac;
    private final Map<Integer, Buffer> rxBuffers = new HashMap<>();

    @BeforeEach
    void namespace() throws Exception {
        String why = NetNamespace.unavailable();
        if (why != null) {
            System.out.println("SKIP VirtioNetTest: " + why);
        }
        Assumptions.assumeTrue(why == null, why);
        ns = NetNamespace.create();
    }

    @AfterEach
    void cleanup() throws Exception {
        if (h != null) {
            h.close();
        }
        if (host != null) {
            host.close();
        }
        if (ns != null) {
            ns.close();
        }
    }

    /** The device on a fresh tap, activated with {@code features} of what it offers. */
    private void start(long features) throws Exception {
        TapBackend backend = new TapBackend(ns.tap("kvn0"));
        ns.ip("link", "set", "kvn0", "up");
        ns.ip("addr", "add", HOST_IP + "/24", "dev", "kvn0");
        ns.ip("neigh", "add", GUEST_IP, "lladdr", "52:54:00:12:34:56", "dev", "kvn0");
        tapMac = ns.mac("kvn0");
        device = new VirtioNet(backend, GUEST_MAC);
        h = new DeviceHarness(device, features, 256, new GuestDriver(32L << 20));
        host = ns.datagramChannel();
        host.bind(new InetSocketAddress(InetAddress.getByName(HOST_IP), 4444));
        host.configureBlocking(false);
    }

    private static long all() {
        return -1L;
    }

    private void postRx(int n, int size) {
        DriverQueue rx = h.queue(VirtioNet.RECEIVE_QUEUE);
        for (int i = 0; i < n; i++) {
            Buffer b = h.driver().writable(size);
            rxBuffers.put(rx.add(b), b);
        }
        h.notifyQueue(VirtioNet.RECEIVE_QUEUE);
    }

    private void transmit(byte[] header, byte[] frame) {
        DriverQueue tx = h.queue(VirtioNet.TRANSMIT_QUEUE);
        tx.add(h.driver().readable(header), h.driver().readable(frame));
        h.notifyQueue(VirtioNet.TRANSMIT_QUEUE);
        Used u = tx.takeUsed();
        assertEquals(0, u.length(), "transmit buffers are returned with nothing written");
    }

    private String receiveOnHost(int millis) throws Exception {
        ByteBuffer in = ByteBuffer.allocate(2048);
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (host.receive(in) == null) {
            if (System.nanoTime() > deadline) {
                return null;
            }
            Thread.sleep(2);
        }
        return new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII);
    }

    /** The next UDP frame the guest received (header + frame bytes, across its buffers). */
    private byte[][] receiveInGuest() {
        DriverQueue rx = h.queue(VirtioNet.RECEIVE_QUEUE);
        long deadline = System.nanoTime() + T.toNanos();
        while (System.nanoTime() < deadline) {
            Used u = rx.takeUsed();
            if (u == null) {
                h.pump(10);
                continue;
            }
            byte[] first = h.driver().read(rxBuffers.remove(u.id()).address(), u.length());
            int buffers = ByteBuffer.wrap(first).order(ByteOrder.LITTLE_ENDIAN).getShort(10) & 0xffff;
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            all.writeBytes(first);
            for (int i = 1; i < buffers; i++) {
                Used more = rx.takeUsed();
                assertTrue(more != null, "num_buffers says " + buffers + " but only " + i + " were used");
                all.writeBytes(h.driver().read(rxBuffers.remove(more.id()).address(), more.length()));
            }
            byte[] bytes = all.toByteArray();
            byte[] frame = Arrays.copyOfRange(bytes, 12, bytes.length);
            // skip what the host stack sends on its own (IPv6 router solicitations and such)
            if (frame.length >= 14 + 20 + 8 && frame[12] == 0x08 && frame[13] == 0 && frame[14 + 9] == 17) {
                return new byte[][] {Arrays.copyOf(bytes, 12), frame, {(byte) buffers}};
            }
        }
        throw new AssertionError("no UDP frame reached the guest");
    }

    @Test
    void framesFlowBothWaysThroughTheTap() throws Exception {
        start(all());
        byte[] cfg = new byte[VirtioNet.CONFIG_SIZE];
        device.readConfig(0, cfg);
        assertArrayEquals(GUEST_MAC, Arrays.copyOf(cfg, 6));
        assertEquals(VirtioNet.S_LINK_UP, cfg[6]);

        byte[] frame = NetNamespace.udpFrame(tapMac, GUEST_MAC, GUEST_IP, HOST_IP, 5555, 4444,
                "guest->host".getBytes(StandardCharsets.US_ASCII), 0);
        transmit(new byte[12], frame);
        assertEquals("guest->host", receiveOnHost(5000));
        assertEquals(1, device.framesOut());

        postRx(16, 2048);
        host.send(ByteBuffer.wrap("host->guest".getBytes(StandardCharsets.US_ASCII)), new InetSocketAddress(GUEST_IP, 5555));
        byte[][] got = receiveInGuest();
        byte[] f = got[1];
        assertArrayEquals(GUEST_MAC, Arrays.copyOf(f, 6), "to the guest's MAC");
        assertEquals("host->guest", new String(f, 14 + 20 + 8, 11, StandardCharsets.US_ASCII));
    }

    @Test
    void guestChecksumOffloadGetsPartialChecksumsFromTheHost() throws Exception {
        start(all());
        assertTrue(Features.has(h.negotiated(), VirtioNet.F_GUEST_CSUM));
        postRx(16, 2048);
        host.send(ByteBuffer.wrap("partial".getBytes(StandardCharsets.US_ASCII)), new InetSocketAddress(GUEST_IP, 5555));
        byte[][] got = receiveInGuest();
        ByteBuffer hdr = ByteBuffer.wrap(got[0]).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(VirtioNet.HDR_F_NEEDS_CSUM, hdr.get(0) & VirtioNet.HDR_F_NEEDS_CSUM,
                "the tap leaves the UDP checksum to the guest (TUNSETOFFLOAD took GUEST_CSUM)");
        assertEquals(14 + 20, hdr.getShort(6), "csum_start: the UDP header");
        assertEquals(6, hdr.getShort(8), "csum_offset: the UDP checksum field");
    }

    @Test
    void withoutGuestChecksumOffloadTheHostFinishesChecksums() throws Exception {
        start(all() & ~(Features.bit(VirtioNet.F_GUEST_CSUM) | Features.bit(VirtioNet.F_GUEST_TSO4)
                | Features.bit(VirtioNet.F_GUEST_TSO6) | Features.bit(VirtioNet.F_GUEST_ECN)));
        postRx(16, 2048);
        host.send(ByteBuffer.wrap("complete".getBytes(StandardCharsets.US_ASCII)), new InetSocketAddress(GUEST_IP, 5555));
        byte[][] got = receiveInGuest();
        assertEquals(0, got[0][0] & VirtioNet.HDR_F_NEEDS_CSUM);
        int udpSum = ByteBuffer.wrap(got[1]).getShort(14 + 20 + 6) & 0xffff;
        assertTrue(udpSum != 0, "a full UDP checksum was computed by the host");
    }

    @Test
    void aNeedsCsumHeaderFromTheGuestLetsTheHostFinishTheChecksum() throws Exception {
        start(all());
        byte[] payload = "offloaded".getBytes(StandardCharsets.US_ASCII);
        int udpLen = 8 + payload.length;
        // the checksum field holds only the pseudo-header sum: wrong as a final checksum
        int partial = NetNamespace.pseudoHeaderSum(GUEST_IP, HOST_IP, udpLen);
        byte[] frame = NetNamespace.udpFrame(tapMac, GUEST_MAC, GUEST_IP, HOST_IP, 5555, 4444, payload, partial);
        transmit(new byte[12], frame);
        assertNull(receiveOnHost(300), "without NEEDS_CSUM the bad checksum makes the host drop it");
        byte[] hdr = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                .put((byte) VirtioNet.HDR_F_NEEDS_CSUM).put((byte) VirtioNet.HDR_GSO_NONE).putShort((short) 0)
                .putShort((short) 0).putShort((short) (14 + 20)).putShort((short) 6).putShort((short) 0).array();
        transmit(hdr, frame);
        assertEquals("offloaded", receiveOnHost(5000), "with NEEDS_CSUM the host completes it");
    }

    @Test
    void mergeableReceiveBuffersCarryALargeFrameAcrossSeveralChains() throws Exception {
        start(all());
        assertTrue(Features.has(h.negotiated(), VirtioNet.F_MRG_RXBUF));
        postRx(32, 256);
        byte[] payload = new byte[1000];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) (i * 13);
        }
        host.send(ByteBuffer.wrap(payload), new InetSocketAddress(GUEST_IP, 5555));
        byte[][] got = receiveInGuest();
        int expectedBuffers = (12 + 14 + 20 + 8 + 1000 + 255) / 256;
        assertEquals(expectedBuffers, got[2][0], "num_buffers");
        assertArrayEquals(payload, Arrays.copyOfRange(got[1], 14 + 20 + 8, 14 + 20 + 8 + 1000));
    }

    @Test
    void withoutMergeableBuffersAFrameTooBigForTheBufferIsDroppedAndTheBufferKept() throws Exception {
        start(all() & ~Features.bit(VirtioNet.F_MRG_RXBUF));
        postRx(1, 64);
        host.send(ByteBuffer.wrap(new byte[500]), new InetSocketAddress(GUEST_IP, 5555));
        h.awaitUntil(() -> device.dropsIn() >= 1, T, "the oversized frame to be dropped");
        assertNull(h.queue(VirtioNet.RECEIVE_QUEUE).takeUsed(), "the small buffer was not used");
        postRx(4, 2048);
        host.send(ByteBuffer.wrap("fits".getBytes(StandardCharsets.US_ASCII)), new InetSocketAddress(GUEST_IP, 5555));
        h.awaitUntil(() -> device.framesIn() >= 1, T, "the next frame");
    }

    @Test
    void withoutReceiveBuffersTheDeviceWaitsInsteadOfSpinning() throws Exception {
        start(all());
        host.send(ByteBuffer.wrap("early".getBytes(StandardCharsets.US_ASCII)), new InetSocketAddress(GUEST_IP, 5555));
        h.awaitUntil(() -> h.pump(20) == 0, T, "the device to stop watching the tap");
        int handlersRun = 0;
        for (int i = 0; i < 5; i++) {
            handlersRun += h.pump(10);
        }
        assertEquals(0, handlersRun, "no busy loop while the guest has no buffers");
        postRx(8, 2048);
        byte[][] got = receiveInGuest();
        assertEquals("early", new String(got[1], 14 + 20 + 8, 5, StandardCharsets.US_ASCII), "the frame waited");
    }

    @Test
    void malformedTransmitChainsAreDroppedAndTheDeviceGoesOn() throws Exception {
        start(all());
        DriverQueue tx = h.queue(VirtioNet.TRANSMIT_QUEUE);
        GuestDriver d = h.driver();
        tx.add(d.readable(new byte[10]));                                   // shorter than the header
        tx.add(d.readable(new byte[12]), d.readable(new byte[20]), d.writable(64)); // a writable buffer
        tx.add(d.readable(new byte[12]), d.readable(new byte[VirtioNet.MAX_FRAME + 1])); // too long
        byte[] hostileGso = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                .put((byte) VirtioNet.HDR_F_NEEDS_CSUM).put((byte) VirtioNet.HDR_GSO_TCPV4).putShort((short) 0)
                .putShort((short) 1).putShort((short) 60000).putShort((short) 6).putShort((short) 0).array();
        tx.add(d.readable(hostileGso), d.readable(new byte[60]));           // refused by the host kernel
        h.notifyQueue(VirtioNet.TRANSMIT_QUEUE);
        for (int i = 0; i < 4; i++) {
            assertEquals(0, tx.takeUsed().length());
        }
        assertEquals(4, device.dropsOut());
        assertTrue(h.interrupt().resets().isEmpty());
        byte[] frame = NetNamespace.udpFrame(tapMac, GUEST_MAC, GUEST_IP, HOST_IP, 5555, 4444,
                "still-works".getBytes(StandardCharsets.US_ASCII), 0);
        transmit(new byte[12], frame);
        assertEquals("still-works", receiveOnHost(5000));
    }

    @Test
    void featureDependenciesAreEnforced() throws Exception {
        start(all());
        long tsoWithoutCsum = Features.bit(VirtioNet.F_GUEST_TSO4);
        assertFalse(device.acceptsFeatures(tsoWithoutCsum));
        assertFalse(device.acceptsFeatures(Features.bit(VirtioNet.F_HOST_TSO4)));
        assertTrue(device.acceptsFeatures(Features.bit(VirtioNet.F_HOST_TSO4) | Features.bit(VirtioNet.F_CSUM)));
        assertFalse(device.acceptsFeatures(Features.bit(VirtioNet.F_GUEST_ECN) | Features.bit(VirtioNet.F_GUEST_CSUM)));
    }
}
