package dev.kava.hypervisor.qemu;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.kava.hypervisor.HypervisorException;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/**
 * A minimal QMP client: one JSON object per line over a unix socket. Every call has a deadline (the
 * channel is non-blocking behind a selector), so a wedged QEMU cannot hang the caller. Asynchronous
 * events ({@code {"event": ...}}) that arrive between a command and its answer are skipped.
 * Replies are bounded in size: QEMU runs with less trust than the runtime.
 */
final class Qmp implements AutoCloseable {

    private static final int MAX_LINE = 1 << 20;

    private final SocketChannel channel;
    private final Selector selector;
    private final ByteBuffer readBuf = ByteBuffer.allocate(8192);
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    private Qmp(SocketChannel channel, Selector selector) {
        this.channel = channel;
        this.selector = selector;
        readBuf.flip();
    }

    /**
     * Connects and completes the handshake (greeting, {@code qmp_capabilities}).
     *
     * @throws IOException if the socket is not there or not accepting yet (the caller retries)
     */
    static Qmp connect(Path socket, Instant deadline) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        Selector sel = null;
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.configureBlocking(false);
            sel = Selector.open();
            ch.register(sel, SelectionKey.OP_READ);
            Qmp qmp = new Qmp(ch, sel);
            JsonObject greeting = qmp.readObject(deadline);
            if (!greeting.has("QMP")) throw new IOException("not a QMP greeting: " + greeting);
            qmp.execute("qmp_capabilities", deadline);
            return qmp;
        } catch (IOException | RuntimeException e) {
            if (sel != null) sel.close();
            ch.close();
            throw e;
        }
    }

    /** Runs a command and returns its {@code "return"} value. */
    synchronized JsonElement execute(String command, Instant deadline) throws IOException {
        JsonObject req = new JsonObject();
        req.addProperty("execute", command);
        write((req + "\n").getBytes(StandardCharsets.UTF_8), deadline);
        while (true) {
            JsonObject reply = readObject(deadline);
            if (reply.has("event")) continue;
            if (reply.has("return")) return reply.get("return");
            if (reply.has("error")) {
                JsonObject err = reply.getAsJsonObject("error");
                String desc = err.has("desc") ? err.get("desc").getAsString() : err.toString();
                throw new HypervisorException("QMP " + command + " failed: " + desc);
            }
            throw new IOException("unexpected QMP reply to " + command + ": " + reply);
        }
    }

    JsonElement execute(String command, Duration timeout) throws IOException {
        return execute(command, Instant.now().plus(timeout));
    }

    private void write(byte[] bytes, Instant deadline) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
            if (channel.write(buf) == 0) {
                // the socket buffer is full: a short wait, still bounded by the deadline
                if (Instant.now().isAfter(deadline)) throw new IOException("QMP write timed out");
                Thread.onSpinWait();
            }
        }
    }

    private JsonObject readObject(Instant deadline) throws IOException {
        String text = readLine(deadline);
        try {
            JsonElement e = JsonParser.parseString(text);
            if (!e.isJsonObject()) throw new IOException("QMP sent a non-object: " + abbreviate(text));
            return e.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IOException("QMP sent bad JSON: " + abbreviate(text), e);
        }
    }

    private String readLine(Instant deadline) throws IOException {
        while (true) {
            while (readBuf.hasRemaining()) {
                byte b = readBuf.get();
                if (b == '\n') {
                    String s = line.toString(StandardCharsets.UTF_8).trim();
                    line.reset();
                    if (!s.isEmpty()) return s;
                } else {
                    if (line.size() >= MAX_LINE) throw new IOException("QMP line longer than " + MAX_LINE + " bytes");
                    line.write(b);
                }
            }
            long waitMs = Duration.between(Instant.now(), deadline).toMillis();
            if (waitMs <= 0) throw new IOException("QMP did not answer in time");
            selector.selectedKeys().clear();
            if (selector.select(waitMs) == 0) continue;
            readBuf.clear();
            int n = channel.read(readBuf);
            readBuf.flip();
            if (n < 0) throw new EOFException("QMP connection closed by QEMU");
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    @Override
    public void close() {
        try {
            selector.close();
        } catch (IOException ignored) {
            // nothing to do: the channel is closed next
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a unix socket does not fail in a way we could act on
        }
    }
}
