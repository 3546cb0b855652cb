package dev.kava.virtio.net;

import dev.kava.linux.Fd;
import dev.kava.linux.Namespaces;
import dev.kava.linux.OpenFlags;
import dev.kava.linux.Tap;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace made for one test with {@code ip netns add}, deleted on close: the tap lives
 * there, and so do the sockets standing in for the host's network.
 */
final class NetNamespace implements AutoCloseable {
    final String name;

    private NetNamespace(String name) {
        this.name = name;
    }

    /** Why this machine cannot run the tap tests, or null when it can. */
    static String unavailable() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return "needs root (ip netns, /dev/net/tun)";
        }
        if (!Files.exists(Path.of("/dev/net/tun"))) {
            return "no /dev/net/tun";
        }
        return null;
    }

    static NetNamespace create() throws Exception {
        String name = "kvnet" + ProcessHandle.current().pid() % 100000 + "n" + System.nanoTime() % 10000;
        run("ip", "netns", "add", name);
        return new NetNamespace(name);
    }

    Path path() {
        return Path.of("/run/netns", name);
    }

    Tap tap(String dev) {
        return Tap.openIn(path(), dev);
    }

    void ip(String... args) throws Exception {
        String[] cmd = new String[args.length + 3];
        cmd[0] = "ip";
        cmd[1] = "-n";
        cmd[2] = name;
        System.arraycopy(args, 0, cmd, 3, args.length);
        run(cmd);
    }

    byte[] mac(String dev) throws Exception {
        String out = run("ip", "-n", name, "-o", "link", "show", dev);
        int at = out.indexOf("link/ether ");
        if (at < 0) {
            throw new IllegalStateException(out);
        }
        String[] parts = out.substring(at + 11, at + 28).split(":");
        byte[] m = new byte[6];
        for (int i = 0; i < 6; i++) {
            m[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return m;
    }

    /** A datagram channel created inside the namespace (by a thread that entered it and then ended). */
    DatagramChannel datagramChannel() throws Exception {
        CompletableFuture<DatagramChannel> ch = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            try (Fd ns = Fd.open(path().toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0)) {
                Namespaces.enter(ns, Namespaces.CLONE_NEWNET);
                ch.complete(DatagramChannel.open());
            } catch (Throwable e) {
                ch.completeExceptionally(e);
            }
        }).join();
        return ch.get();
    }

    @Override
    public void close() throws Exception {
        run("ip", "netns", "del", name);
    }

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + ": " + out);
        }
        return out;
    }

    /** An Ethernet + IPv4 + UDP frame; {@code udpChecksum} goes into the UDP header as given. */
    static byte[] udpFrame(byte[] dstMac, byte[] srcMac, String src, String dst, int sport, int dport, byte[] payload,
                           int udpChecksum) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(14 + 20 + 8 + payload.length).order(ByteOrder.BIG_ENDIAN);
        b.put(dstMac).put(srcMac).putShort((short) 0x0800);
        int ip = b.position();
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + payload.length)).putShort((short) 1)
                .putShort((short) 0x4000).put((byte) 64).put((byte) 17).putShort((short) 0)
                .put(InetAddress.getByName(src).getAddress()).put(InetAddress.getByName(dst).getAddress());
        b.putShort(ip + 10, (short) ~fold(sum(b.array(), ip, 20)));
        b.putShort((short) sport).putShort((short) dport).putShort((short) (8 + payload.length)).putShort((short) udpChecksum);
        b.put(payload);
        return b.array();
    }

    /** The UDP pseudo-header sum (folded, not inverted): what a NEEDS_CSUM sender leaves in the field. */
    static int pseudoHeaderSum(String src, String dst, int udpLength) throws IOException {
        byte[] s = InetAddress.getByName(src).getAddress();
        byte[] d = InetAddress.getByName(dst).getAddress();
        long sum = sum(s, 0, 4) + sum(d, 0, 4) + 17 + udpLength;
        return fold(sum);
    }

    static long sum(byte[] b, int off, int len) {
        long sum = 0;
        for (int i = off; i < off + len; i += 2) {
            sum += ((b[i] & 0xff) << 8) | (i + 1 < off + len ? b[i + 1] & 0xff : 0);
        }
        return sum;
    }

    static int fold(long sum) {
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int) sum;
    }
}
