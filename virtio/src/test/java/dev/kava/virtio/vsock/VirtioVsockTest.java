package dev.kava.virtio.vsock;

import static dev.kava.virtio.vsock.GuestVsockDriver.GUEST_CID;
import static dev.kava.virtio.vsock.GuestVsockDriver.header;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.virtio.device.DeviceHarness;
import dev.kava.virtio.vsock.GuestVsockDriver.Packet;
import java.io.ByteArrayOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hybrid vsock end to end without a VM: real unix sockets on the host side, the simulated driver
 * as the guest's vsock transport.
 */
class VirtioVsockTest {
    private static final Duration T = Duration.ofSeconds(5);
    private static final int GUEST_BUF = 64 * 1024;
    private static final int AGENT_PORT = 1024;

    @TempDir
    Path dir;
    private Path socket;
    private VirtioVsock device;
    private DeviceHarness h;
    private GuestVsockDriver guest;

    @BeforeEach
    void device() {
        socket = dir.resolve("v.sock");
        device = new VirtioVsock(new VsockConfig(GUEST_CID, socket));
        h = new DeviceHarness(device, 256);
        guest = new GuestVsockDriver(h);
        guest.postRx(32);
    }

    @AfterEach
    void close() {
        h.close();
    }

    private SocketChannel hostClient() throws Exception {
        SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        ch.configureBlocking(false);
        return ch;
    }

    private static void write(SocketChannel ch, String s) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Reads from a non-blocking channel, pumping the device, until {@code n} bytes or end of stream. */
    private byte[] read(SocketChannel ch, int n) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(65536);
        long deadline = System.nanoTime() + T.toNanos();
        while (out.size() < n) {
            b.clear();
            int r = ch.read(b);
            if (r < 0) {
                break;
            }
            out.write(b.array(), 0, r);
            if (r == 0) {
                assertTrue(System.nanoTime() < deadline, "only " + out.size() + " of " + n + " bytes arrived");
                h.pump(5);
                guest.poll();
            }
        }
        return out.toByteArray();
    }

    /** Whether the channel reached end of stream (pumping until it does or the time is up). */
    private boolean eof(SocketChannel ch) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(65536);
        long deadline = System.nanoTime() + T.toNanos();
        while (System.nanoTime() < deadline) {
            b.clear();
            try {
                if (ch.read(b) < 0) {
                    return true;
                }
            } catch (java.net.SocketException reset) {
                return true; // closed with bytes we sent still unread: ECONNRESET, also an end
            }
            h.pump(5);
            guest.poll();
        }
        return false;
    }

    /** A host client connected to guest port {@code port} through the CONNECT handshake; returns it and the host port. */
    private Object[] connectFromHost(int port) throws Exception {
        SocketChannel ch = hostClient();
        write(ch, "CONNECT " + port + "\n");
        Packet req = guest.next(T);
        assertEquals(VsockHeader.OP_REQUEST, req.header().op());
        assertEquals(2, req.header().srcCid(), "from the host's CID");
        assertEquals(GUEST_CID, req.header().dstCid());
        assertEquals(port, req.header().dstPort());
        int hostPort = req.header().srcPort();
        guest.send(header(port, hostPort, VsockHeader.OP_RESPONSE, 0, 0, GUEST_BUF, 0));
        String ok = new String(read(ch, ("OK " + Integer.toUnsignedString(hostPort) + "\n").length()), StandardCharsets.US_ASCII);
        assertEquals("OK " + Integer.toUnsignedString(hostPort) + "\n", ok);
        return new Object[] {ch, hostPort};
    }

    @Test
    void aHostClientReachesAGuestPortThroughTheConnectHandshake() throws Exception {
        Object[] c = connectFromHost(AGENT_PORT);
        SocketChannel ch = (SocketChannel) c[0];
        int hostPort = (int) c[1];
        assertEquals(1 << 30, hostPort, "host ports start at 2^30");
        write(ch, "ping");
        Packet p = guest.next(T);
        assertEquals(VsockHeader.OP_RW, p.header().op());
        assertEquals(hostPort, p.header().srcPort());
        assertEquals(AGENT_PORT, p.header().dstPort());
        assertEquals("ping", new String(p.payload(), StandardCharsets.US_ASCII));
        assertEquals(VsockConnection.BUF_ALLOC, p.header().bufAlloc(), "our receive buffer is advertised");
        guest.send(header(AGENT_PORT, hostPort, VsockHeader.OP_RW, 0, 4, GUEST_BUF, 4), "pong".getBytes(StandardCharsets.US_ASCII));
        assertEquals("pong", new String(read(ch, 4), StandardCharsets.US_ASCII));
        assertEquals(1, device.connections());
        ch.close();
    }

    @Test
    void aGuestConnectionToHostPortPReachesTheListenerAtPathUnderscoreP() throws Exception {
        Path listenerPath = Path.of(socket + "_5000");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(listenerPath));
            guest.send(header(33000, 5000, VsockHeader.OP_REQUEST, 0, 0, GUEST_BUF, 0));
            Packet resp = guest.next(T);
            assertEquals(VsockHeader.OP_RESPONSE, resp.header().op());
            assertEquals(5000, resp.header().srcPort());
            assertEquals(33000, resp.header().dstPort());
            try (SocketChannel accepted = server.accept()) {
                accepted.configureBlocking(false);
                guest.send(header(33000, 5000, VsockHeader.OP_RW, 0, 5, GUEST_BUF, 0), "hello".getBytes(StandardCharsets.US_ASCII));
                assertEquals("hello", new String(read(accepted, 5), StandardCharsets.US_ASCII));
                write(accepted, "world");
                Packet p = guest.next(T);
                assertEquals(VsockHeader.OP_RW, p.header().op());
                assertEquals("world", new String(p.payload(), StandardCharsets.US_ASCII));
                assertEquals(5, p.header().fwdCnt(), "the host forwarded the guest's 5 bytes");
            }
        }
    }

    @Test
    void aRequestToAPortWithoutListenerIsReset() {
        guest.send(header(33001, 6000, VsockHeader.OP_REQUEST, 0, 0, GUEST_BUF, 0));
        Packet p = guest.next(T);
        assertEquals(VsockHeader.OP_RST, p.header().op());
        assertEquals(6000, p.header().srcPort());
        assertEquals(33001, p.header().dstPort());
        assertEquals(0, device.connections());
    }

    @Test
    void packetsForNoConnectionAndUnknownOperationsAreReset() {
        guest.send(header(1, 2, VsockHeader.OP_RW, 0, 3, GUEST_BUF, 0), new byte[3]);
        assertEquals(VsockHeader.OP_RST, guest.next(T).header().op());
        guest.send(header(1, 2, VsockHeader.OP_CREDIT_REQUEST, 0, 0, GUEST_BUF, 0));
        assertEquals(VsockHeader.OP_RST, guest.next(T).header().op());
        guest.send(header(1, 2, 99, 0, 0, GUEST_BUF, 0));
        assertEquals(VsockHeader.OP_RST, guest.next(T).header().op());
        guest.send(new VsockHeader(GUEST_CID, 2, 1, 2, 0, VsockHeader.TYPE_SEQPACKET, VsockHeader.OP_REQUEST, 0, 0, 0));
        assertEquals(VsockHeader.OP_RST, guest.next(T).header().op());
    }

    @Test
    void spoofedOrMalformedPacketsAreDroppedSilently() throws Exception {
        Path listenerPath = Path.of(socket + "_5001");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(listenerPath));
            server.configureBlocking(false);
            // another VM's CID as source, a destination other than the host, a len beyond the chain
            guest.send(new VsockHeader(7, 2, 1, 5001, 0, VsockHeader.TYPE_STREAM, VsockHeader.OP_REQUEST, 0, 0, 0));
            guest.send(new VsockHeader(GUEST_CID, 3, 1, 5001, 0, VsockHeader.TYPE_STREAM, VsockHeader.OP_REQUEST, 0, 0, 0));
            guest.send(header(1, 5001, VsockHeader.OP_RW, 0, 1000, GUEST_BUF, 0), new byte[10]);
            guest.send(header(1, 5001, VsockHeader.OP_RW, 0, 100_000, GUEST_BUF, 0), new byte[100_000]);
            h.queue(VirtioVsock.TRANSMIT_QUEUE).add(h.driver().readable(new byte[20])); // shorter than a header
            h.notifyQueue(VirtioVsock.TRANSMIT_QUEUE);
            assertTrue(guest.quiet(100), "no answer to any of them");
            assertEquals(null, server.accept(), "nothing connected on the guest's behalf");
            assertEquals(5, device.droppedPackets());
            assertTrue(h.interrupt().resets().isEmpty(), "malformed packets are not a reason to reset the device");
        }
    }

    @Test
    void dataToTheGuestStopsAtItsCreditUntilItGrantsMore() throws Exception {
        Object[] c = connectFromHost(AGENT_PORT);
        SocketChannel ch = (SocketChannel) c[0];
        int hostPort = (int) c[1];
        // the guest now says it has only 1000 bytes of buffer
        guest.send(header(AGENT_PORT, hostPort, VsockHeader.OP_CREDIT_UPDATE, 0, 0, 1000, 0));
        byte[] data = new byte[2500];
        Arrays.fill(data, (byte) 'x');
        ch.write(ByteBuffer.wrap(data));
        int got = 0;
        int creditRequests = 0;
        while (true) {
            Packet p;
            try {
                p = guest.next(Duration.ofMillis(300));
            } catch (AssertionError quiet) {
                break;
            }
            if (p.header().op() == VsockHeader.OP_RW) {
                got += p.payload().length;
            } else if (p.header().op() == VsockHeader.OP_CREDIT_REQUEST) {
                creditRequests++;
            }
        }
        assertEquals(1000, got, "no more than the guest's credit");
        assertEquals(1, creditRequests, "the host asks for credit once when it has data waiting");
        // the guest consumed 1000 bytes: credit for another 1000
        guest.send(header(AGENT_PORT, hostPort, VsockHeader.OP_CREDIT_UPDATE, 0, 0, 1000, 1000));
        int more = 0;
        while (more < 1000) {
            Packet p = guest.next(T);
            if (p.header().op() == VsockHeader.OP_RW) {
                more += p.payload().length;
            }
        }
        assertEquals(1000, more);
        ch.close();
    }

    @Test
    void aGuestSendingBeyondTheCreditItWasGivenIsReset() throws Exception {
        Object[] c = connectFromHost(AGENT_PORT);
        SocketChannel ch = (SocketChannel) c[0]; // never read: the socket buffer fills, then ours
        int hostPort = (int) c[1];
        byte[] chunk = new byte[64 * 1024];
        boolean reset = false;
        int sent = 0;
        for (int i = 0; i < 64 && !reset; i++) {
            guest.send(header(AGENT_PORT, hostPort, VsockHeader.OP_RW, 0, chunk.length, GUEST_BUF, 0), chunk);
            sent += chunk.length;
            guest.poll();
            Packet p;
            while (!reset) {
                try {
                    p = guest.next(Duration.ofMillis(20));
                } catch (AssertionError none) {
                    break;
                }
                reset = p.header().op() == VsockHeader.OP_RST;
            }
        }
        assertTrue(reset, "a guest ignoring its credit is reset (sent " + sent + " bytes)");
        assertEquals(0, device.connections());
        assertTrue(eof(ch), "the host client sees the end of the stream");
    }

    @Test
    void shutdownsPropagateBothWays() throws Exception {
        // the guest shuts down both directions: the host client sees EOF, the guest gets RST
        Object[] c = connectFromHost(AGENT_PORT);
        SocketChannel ch = (SocketChannel) c[0];
        int hostPort = (int) c[1];
        guest.send(header(AGENT_PORT, hostPort, VsockHeader.OP_SHUTDOWN,
                VsockHeader.SHUTDOWN_RCV | VsockHeader.SHUTDOWN_SEND, 0, GUEST_BUF, 0));
        assertEquals(VsockHeader.OP_RST, guest.next(T).header().op());
        assertTrue(eof(ch));
        assertEquals(0, device.connections());

        // the host client closes: the guest gets SHUTDOWN, answers RST, the connection is gone
        Object[] c2 = connectFromHost(AGENT_PORT + 1);
        SocketChannel ch2 = (SocketChannel) c2[0];
        int hostPort2 = (int) c2[1];
        ch2.close();
        Packet s = guest.next(T);
        assertEquals(VsockHeader.OP_SHUTDOWN, s.header().op());
        assertEquals(VsockHeader.SHUTDOWN_SEND, s.header().flags() & VsockHeader.SHUTDOWN_SEND);
        guest.send(header(AGENT_PORT + 1, hostPort2, VsockHeader.OP_RST, 0, 0, GUEST_BUF, 0));
        h.pump(10);
        assertEquals(0, device.connections());
    }

    @Test
    void theGuestHalfClosingLetsTheHostFinishReading() throws Exception {
        Object[] c = connectFromHost(AGENT_PORT);
        SocketChannel ch = (SocketChannel) c[0];
        int hostPort = (int) c[1];
        guest.send(header(AGENT_PORT, hostPort, VsockHeader.OP_RW, 0, 3, GUEST_BUF, 0), "end".getBytes(StandardCharsets.US_ASCII));
        guest.send(header(AGENT_PORT, hostPort, VsockHeader.OP_SHUTDOWN, VsockHeader.SHUTDOWN_SEND, 0, GUEST_BUF, 0));
        assertEquals("end", new String(read(ch, 3), StandardCharsets.US_ASCII));
        assertTrue(eof(ch), "after the guest's SHUTDOWN(SEND) the host reads end of stream");
        write(ch, "still");
        Packet p = guest.next(T);
        assertEquals(VsockHeader.OP_RW, p.header().op(), "the other direction stays open");
        assertEquals("still", new String(p.payload(), StandardCharsets.US_ASCII));
    }

    @Test
    void aGuestRejectingTheConnectionClosesTheHostClient() throws Exception {
        SocketChannel ch = hostClient();
        write(ch, "CONNECT 7777\n");
        Packet req = guest.next(T);
        guest.send(header(7777, req.header().srcPort(), VsockHeader.OP_RST, 0, 0, 0, 0));
        assertTrue(eof(ch));
        assertEquals(0, device.connections());
    }

    @Test
    void badHandshakesAreClosedWithoutReachingTheGuest() throws Exception {
        SocketChannel a = hostClient();
        write(a, "HELLO 1024\n");
        SocketChannel b = hostClient();
        write(b, "CONNECT 99999999999\n");
        SocketChannel c = hostClient();
        write(c, "CONNECT " + "1".repeat(40)); // no newline within the line limit
        assertTrue(eof(a));
        assertTrue(eof(b));
        assertTrue(eof(c));
        assertTrue(guest.quiet(50), "the guest heard nothing");
        assertEquals(-1, HybridVsockMuxer.parseConnect("CONNECT -1"));
        assertEquals(-1, HybridVsockMuxer.parseConnect("CONNECT "));
        assertEquals(4294967295L, HybridVsockMuxer.parseConnect("CONNECT 4294967295"));
    }

    @Test
    void aGuestThatTakesNothingCannotMakeTheHostQueueWithoutBound() {
        // no receive buffers left: every RST the guest provokes must wait
        h.close();
        device = new VirtioVsock(new VsockConfig(GUEST_CID, dir.resolve("w.sock")));
        h = new DeviceHarness(device, 256);
        guest = new GuestVsockDriver(h);
        int sent = 0;
        for (int round = 0; round < 6; round++) {
            for (int i = 0; i < 200; i++) {
                h.queue(VirtioVsock.TRANSMIT_QUEUE).add(h.driver().readable(header(1, 2, VsockHeader.OP_RW, 0, 0, 0, 0).encode()));
                sent++;
            }
            h.notifyQueue(VirtioVsock.TRANSMIT_QUEUE);
            int returned = 0;
            while (h.queue(VirtioVsock.TRANSMIT_QUEUE).takeUsed() != null) {
                returned++;
            }
            if (round < 5) {
                assertEquals(200, returned, "round " + round);
            } else {
                assertEquals(HybridVsockMuxer.MAX_CONTROL - 1000, returned, "the device stopped taking packets once "
                        + HybridVsockMuxer.MAX_CONTROL + " answers were queued");
            }
        }
        // once the guest takes the answers, the rest is processed
        int resets = 0;
        for (int i = 0; i < 40 && resets < sent; i++) {
            guest.postRx(64);
            guest.poll();
            while (true) {
                try {
                    if (guest.next(Duration.ofMillis(1)).header().op() == VsockHeader.OP_RST) {
                        resets++;
                    }
                } catch (AssertionError none) {
                    break;
                }
            }
            while (h.queue(VirtioVsock.TRANSMIT_QUEUE).takeUsed() != null) {
                // free transmit descriptors
            }
        }
        assertEquals(sent, resets, "every packet answered in the end");
    }

    @Test
    void theSocketPathMustFitAndIsRemovedOnClose() {
        assertThrows(IllegalArgumentException.class, () -> new VsockConfig(GUEST_CID, Path.of("/" + "x".repeat(100))));
        assertThrows(IllegalArgumentException.class, () -> new VsockConfig(2, socket));
        assertTrue(Files.exists(socket));
        h.close();
        assertFalse(Files.exists(socket));
        h = new DeviceHarness(new VirtioVsock(new VsockConfig(GUEST_CID, socket)), 16); // for @AfterEach
    }

    @Test
    void theConfigSpaceHoldsTheGuestCid() {
        byte[] cfg = new byte[8];
        device.readConfig(0, cfg);
        assertEquals(GUEST_CID, java.nio.ByteBuffer.wrap(cfg).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong());
    }
}
