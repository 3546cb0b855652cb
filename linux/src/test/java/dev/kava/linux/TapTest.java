package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A real tap in a network namespace this test creates ({@code ip netns add}): frames with virtio
 * net headers in both directions, and the kernel refusing a hostile header.
 */
class TapTest {
    private static final byte[] PEER_MAC = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    private String ns;

    @BeforeEach
    void namespace() throws Exception {
        String why = null;
        if (!"root".equals(System.getProperty("user.name"))) {
            why = "needs root";
        } else if (!Files.exists(Path.of("/dev/net/tun"))) {
            why = "no /dev/net/tun";
        }
        if (why != null) {
            System.out.println("SKIP TapTest: " + why);
        }
        Assumptions.assumeTrue(why == null, why);
        ns = "kvtap" + ProcessHandle.current().pid() % 100000 + "x" + System.nanoTime() % 1000;
        ip("netns", "add", ns);
    }

    @AfterEach
    void cleanup() throws Exception {
        if (ns != null) {
            ip("netns", "del", ns);
        }
    }

    @Test
    void framesPassBothWaysWithVirtioNetHeaders() throws Exception {
        try (Tap tap = Tap.openIn(Path.of("/run/netns", ns), "kvt0")) {
            assertEquals("kvt0", tap.name());
            tap.setVnetHeaderSize(12);
            tap.setOffload(0);
            ip("-n", ns, "link", "set", "kvt0", "up");
            ip("-n", ns, "addr", "add", "10.201.0.1/24", "dev", "kvt0");
            ip("-n", ns, "neigh", "add", "10.201.0.2", "lladdr", "52:54:00:12:34:56", "dev", "kvt0");
            byte[] tapMac = mac(ns, "kvt0");

            try (DatagramChannel sock = inNamespace(ns)) {
                sock.bind(new InetSocketAddress(InetAddress.getByName("10.201.0.1"), 4444));
                // host -> "guest": the host stack sends a UDP datagram to 10.201.0.2 out of the tap
                sock.send(ByteBuffer.wrap("to-guest".getBytes(StandardCharsets.US_ASCII)),
                        new InetSocketAddress("10.201.0.2", 5555));
                byte[] frame = readFrame(tap, 5555);
                assertEquals(0, frame[0], "no offload asked for: no NEEDS_CSUM flag");
                ByteBuffer f = ByteBuffer.wrap(frame).order(ByteOrder.BIG_ENDIAN);
                assertArrayEquals(PEER_MAC, java.util.Arrays.copyOfRange(frame, 12, 18), "to the neighbour's MAC");
                assertEquals(0x0800, f.getShort(12 + 12) & 0xffff, "IPv4");
                String payload = new String(frame, 12 + 14 + 20 + 8, 8, StandardCharsets.US_ASCII);
                assertEquals("to-guest", payload);

                // "guest" -> host: a UDP datagram written to the tap reaches the socket
                byte[] out = udpFrame(tapMac, PEER_MAC, "10.201.0.2", "10.201.0.1", 5555, 4444,
                        "from-guest".getBytes(StandardCharsets.US_ASCII));
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment hdr = arena.allocate(12);
                    MemorySegment body = arena.allocate(out.length);
                    MemorySegment.copy(out, 0, body, ValueLayout.JAVA_BYTE, 0, out.length);
                    assertEquals(12 + out.length, tap.writev(List.of(hdr, body)));
                }
                ByteBuffer in = ByteBuffer.allocate(64);
                sock.configureBlocking(false);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (sock.receive(in) == null) {
                    assertTrue(System.nanoTime() < deadline, "the datagram written to the tap never arrived");
                    Thread.sleep(5);
                }
                assertEquals("from-guest", new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII));
            }
        }
    }

    @Test
    void theKernelRefusesAHostileGsoHeader() throws Exception {
        try (Tap tap = Tap.openIn(Path.of("/run/netns", ns), "kvt1")) {
            tap.setVnetHeaderSize(12);
            ip("-n", ns, "link", "set", "kvt1", "up");
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment hdr = arena.allocate(12);
                hdr.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);   // NEEDS_CSUM
                hdr.set(ValueLayout.JAVA_BYTE, 1, (byte) 1);   // GSO_TCPV4
                hdr.set(ValueLayout.JAVA_SHORT_UNALIGNED, 6, (short) 60000); // csum_start far past the frame
                MemorySegment body = arena.allocate(60);
                ErrnoException e = assertThrows(ErrnoException.class, () -> tap.writev(List.of(hdr, body)));
                assertEquals(Errno.EINVAL, e.errno());
            }
        }
    }

    @Test
    void readWithNothingWaitingSaysSo() throws Exception {
        try (Tap tap = Tap.openIn(Path.of("/run/netns", ns), "kvt2"); Arena arena = Arena.ofConfined()) {
            assertEquals(-1, tap.readv(List.of(arena.allocate(2048))));
        }
    }

    @Test
    void badNamesAreRefusedBeforeAnyCall() {
        assertThrows(IllegalArgumentException.class, () -> Tap.open("a-name-that-is-too-long"));
        assertThrows(IllegalArgumentException.class, () -> Tap.open("a/b"));
    }

    // ------------------------------------------------------------------ helpers

    private static byte[] readFrame(Tap tap, int udpPort) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(65550);
            while (System.nanoTime() < deadline) {
                long n = tap.readv(List.of(buf));
                if (n < 0) {
                    Thread.sleep(5);
                    continue;
                }
                byte[] frame = buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
                ByteBuffer f = ByteBuffer.wrap(frame);
                // skip IPv6 router solicitations and the like: wait for our UDP datagram
                if (n >= 12 + 14 + 20 + 8 && f.getShort(24) == 0x0800 && frame[12 + 14 + 9] == 17
                        && (f.getShort(12 + 14 + 20 + 2) & 0xffff) == udpPort) {
                    return frame;
                }
            }
        }
        throw new AssertionError("no UDP frame to port " + udpPort + " came out of the tap");
    }

    /** An Ethernet + IPv4 + UDP frame (UDP checksum 0: none). */
    static byte[] udpFrame(byte[] dstMac, byte[] srcMac, String src, String dst, int sport, int dport, byte[] payload)
            throws IOException {
        ByteBuffer b = ByteBuffer.allocate(14 + 20 + 8 + payload.length).order(ByteOrder.BIG_ENDIAN);
        b.put(dstMac).put(srcMac).putShort((short) 0x0800);
        int ipStart = b.position();
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + payload.length)).putShort((short) 1)
                .putShort((short) 0x4000).put((byte) 64).put((byte) 17).putShort((short) 0)
                .put(InetAddress.getByName(src).getAddress()).put(InetAddress.getByName(dst).getAddress());
        int sum = 0;
        for (int i = ipStart; i < ipStart + 20; i += 2) {
            sum += b.getShort(i) & 0xffff;
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        b.putShort(ipStart + 10, (short) ~sum);
        b.putShort((short) sport).putShort((short) dport).putShort((short) (8 + payload.length)).putShort((short) 0);
        b.put(payload);
        return b.array();
    }

    /** A datagram channel created by a thread that entered {@code ns}: the socket lives there. */
    static DatagramChannel inNamespace(String ns) throws Exception {
        CompletableFuture<DatagramChannel> ch = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            try (Fd nsFd = Fd.open("/run/netns/" + ns, OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0)) {
                Namespaces.enter(nsFd, Namespaces.CLONE_NEWNET);
                ch.complete(DatagramChannel.open());
            } catch (Throwable e) {
                ch.completeExceptionally(e);
            }
        }).join();
        return ch.get();
    }

    static byte[] mac(String ns, String dev) throws Exception {
        String out = run("ip", "-n", ns, "-o", "link", "show", dev);
        int at = out.indexOf("link/ether ");
        assertTrue(at >= 0, out);
        String hex = out.substring(at + 11, at + 28);
        byte[] m = new byte[6];
        String[] parts = hex.split(":");
        for (int i = 0; i < 6; i++) {
            m[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return m;
    }

    static void ip(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "ip";
        System.arraycopy(args, 0, cmd, 1, args.length);
        run(cmd);
    }

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(10, TimeUnit.SECONDS), String.join(" ", cmd) + " timed out");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }
}
