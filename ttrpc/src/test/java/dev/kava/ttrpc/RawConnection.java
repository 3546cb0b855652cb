package dev.kava.ttrpc;

import com.google.protobuf.ByteString;
import dev.kava.ttrpc.wire.Request;
import dev.kava.ttrpc.wire.Response;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A hand-driven client socket that writes whatever bytes a test wants: no TtrpcClient. */
final class RawConnection implements AutoCloseable {
    record Reply(int streamId, byte type, byte flags, byte[] data) {
        Response response() throws IOException {
            return Response.parseFrom(data);
        }
    }

    final SocketChannel ch;
    private final DataInputStream in;

    RawConnection(Path socket) throws IOException {
        this(SocketChannel.open(UnixDomainSocketAddress.of(socket)));
    }

    RawConnection(SocketChannel ch) {
        this.ch = ch;
        this.in = new DataInputStream(ByteStreams.of(ch).input());
    }

    static SocketChannel open(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        return ch;
    }

    static byte[] frame(int length, int streamId, int type, int flags, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(10 + data.length);
        b.putInt(length).putInt(streamId).put((byte) type).put((byte) flags).put(data);
        return b.array();
    }

    void write(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    void sendFrame(int streamId, int type, int flags, byte[] data) throws IOException {
        write(frame(data.length, streamId, type, flags, data));
    }

    void sendRequest(int streamId, String service, String method, ByteString payload,
            long timeoutNano) throws IOException {
        byte[] req = Request.newBuilder().setService(service).setMethod(method)
                .setPayload(payload).setTimeoutNano(timeoutNano).build().toByteArray();
        sendFrame(streamId, 1, 0, req);
    }

    /** The next frame from the server, waiting at most 5 s. */
    Reply readReply() throws Exception {
        return CompletableFuture.supplyAsync(() -> {
            try {
                int length = in.readInt();
                int id = in.readInt();
                byte type = in.readByte();
                byte flags = in.readByte();
                byte[] data = new byte[length];
                in.readFully(data);
                return new Reply(id, type, flags, data);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofVirtual().start(r)).get(5, TimeUnit.SECONDS);
    }

    /** True when the server closes the connection within 5 s (skipping frames it sends). */
    boolean closedByPeer() throws Exception {
        return CompletableFuture.supplyAsync(() -> {
            try {
                while (true) {
                    if (in.read() < 0) {
                        return true;
                    }
                }
            } catch (EOFException e) {
                return true;
            } catch (IOException e) {
                return true; // reset by peer
            }
        }, r -> Thread.ofVirtual().start(r)).get(5, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
