package dev.kava.hypervisor.qemu;

import dev.kava.hypervisor.AgentEndpoint;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** The host side of the guest's agent.0 port, line by line, for tests. */
final class SerialConnection implements AutoCloseable {

    private static final String EOF = "\u0000eof";

    private final SocketChannel channel;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    SerialConnection(AgentEndpoint endpoint) throws IOException {
        AgentEndpoint.UnixSerial serial = (AgentEndpoint.UnixSerial) endpoint;
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(serial.socket()));
        Thread.ofVirtual().name("serial-reader").start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel),
                    StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) lines.add(l);
            } catch (IOException closed) {
                // the VM went away or we closed the channel
            }
            lines.add(EOF);
        });
    }

    /** The next line from the guest, or null if none arrives within {@code timeout} or the stream ended. */
    String readLine(Duration timeout) throws InterruptedException {
        String l = lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (EOF.equals(l)) {
            lines.add(EOF);
            return null;
        }
        return l;
    }

    void writeLine(String line) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) channel.write(b);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
