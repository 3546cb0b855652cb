package dev.kava.ttrpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import com.google.protobuf.StringValue;
import dev.kava.ttrpc.wire.KeyValue;
import dev.kava.ttrpc.wire.Request;
import dev.kava.ttrpc.wire.Response;
import dev.kava.ttrpc.wire.Status;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The bytes on the wire match containerd's ttrpc: frames, envelopes, flags. */
@Timeout(30)
class WireFormatTest {
    @TempDir Path dir;

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    @Test
    void envelopesUseUpstreamFieldNumbers() throws Exception {
        // Response{status{code=5, message="x"}, payload=0x01}
        Response r = Response.newBuilder().setStatus(Status.newBuilder().setCode(5)
                .setMessage("x")).setPayload(ByteString.copyFrom(new byte[] {1})).build();
        assertArrayEquals(hex("0a05 0805 1201 78 1201 01"), r.toByteArray());
        // Request{service="s", method="m", payload=0x02, timeout_nano=3, metadata{k="a",v="b"}}
        Request q = Request.newBuilder().setService("s").setMethod("m")
                .setPayload(ByteString.copyFrom(new byte[] {2})).setTimeoutNano(3)
                .addMetadata(KeyValue.newBuilder().setKey("a").setValue("b")).build();
        assertArrayEquals(hex("0a0173 12016d 1a0102 2003 2a06 0a0161 120162"), q.toByteArray());
    }

    @Test
    void codesMapToGrpcNumbers() {
        assertEquals(0, Code.OK.value());
        assertEquals(4, Code.DEADLINE_EXCEEDED.value());
        assertEquals(12, Code.UNIMPLEMENTED.value());
        assertEquals(16, Code.UNAUTHENTICATED.value());
        for (Code c : Code.values()) {
            assertEquals(c, Code.of(c.value()));
        }
        assertEquals(Code.UNKNOWN, Code.of(99));
        assertEquals(Code.UNKNOWN, Code.of(-1));
    }

    @Test
    void clientFramesHaveOddIncreasingIdsAndTheRightFlags() throws Exception {
        Path sock = dir.resolve("raw.sock");
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            listener.bind(UnixDomainSocketAddress.of(sock));
            try (TtrpcClient client = new TtrpcClient(ByteStreams.connectUnix(sock));
                    RawConnection server = new RawConnection(listener.accept())) {
                CompletableFuture<StringValue> unary = client.callAsync("svc", "M",
                        StringValue.of("hi"), StringValue.parser(), Duration.ofSeconds(2),
                        Map.of("k", List.of("v1", "v2")));
                RawConnection.Reply req = server.readReply();
                assertEquals(1, req.streamId());
                assertEquals(Frame.TYPE_REQUEST, req.type());
                assertEquals(0, req.flags());
                Request r = Request.parseFrom(req.data());
                assertEquals("svc", r.getService());
                assertEquals("M", r.getMethod());
                assertEquals(StringValue.of("hi").toByteString(), r.getPayload());
                assertEquals(2_000_000_000L, r.getTimeoutNano());
                assertEquals(List.of("v1", "v2"), r.getMetadataList().stream()
                        .map(KeyValue::getValue).toList());
                server.sendFrame(1, Frame.TYPE_RESPONSE, 0, Response.newBuilder()
                        .setPayload(StringValue.of("yo").toByteString()).build().toByteArray());
                assertEquals("yo", unary.get().getValue());

                ClientStream<StringValue> up = client.newStream("svc", "Up",
                        StringValue.parser(), null);
                RawConnection.Reply open = server.readReply();
                assertEquals(3, open.streamId());
                assertEquals(Frame.FLAG_REMOTE_OPEN, open.flags());
                up.send(StringValue.of("d"));
                RawConnection.Reply data = server.readReply();
                assertEquals(Frame.TYPE_DATA, data.type());
                assertEquals(0, data.flags());
                up.closeSend();
                RawConnection.Reply close = server.readReply();
                assertEquals(Frame.TYPE_DATA, close.type());
                assertEquals(Frame.FLAG_REMOTE_CLOSED | Frame.FLAG_NO_DATA, close.flags());
                assertEquals(0, close.data().length);
                // The server ends a stream the way containerd's does: data [remote closed].
                server.sendFrame(3, Frame.TYPE_DATA, 0, StringValue.of("r").toByteArray());
                server.sendFrame(3, Frame.TYPE_DATA,
                        Frame.FLAG_REMOTE_CLOSED | Frame.FLAG_NO_DATA, new byte[0]);
                assertEquals("r", up.receive().getValue());
                assertNull(up.receive());

                ClientStream<StringValue> down = client.newServerStream("svc", "Down",
                        StringValue.of("q"), StringValue.parser(), null);
                RawConnection.Reply req2 = server.readReply();
                assertEquals(5, req2.streamId());
                assertEquals(Frame.FLAG_REMOTE_CLOSED, req2.flags());
                server.sendFrame(5, Frame.TYPE_RESPONSE, 0, Response.newBuilder().setStatus(
                        Status.newBuilder().setCode(Code.NOT_FOUND.value()).setMessage("none"))
                        .build().toByteArray());
                assertEquals(Code.NOT_FOUND, assertThrows(
                        TtrpcException.class, down::receive).code());
            }
        }
    }

    @Test
    void serverEndsAServerStreamWithAnEmptyRemoteClosedDataFrame(@TempDir Path d)
            throws Exception {
        try (TtrpcServer server = new TtrpcServer()) {
            server.registerStream("svc", "Two", StringValue.parser(), (st, ctx) -> {
                st.send(st.receive());
                st.send(st.receive() == null ? StringValue.of("end") : StringValue.of("?"));
                return null;
            });
            Path sock = d.resolve("s.sock");
            server.listen(sock);
            try (RawConnection raw = new RawConnection(sock)) {
                byte[] req = Request.newBuilder().setService("svc").setMethod("Two")
                        .setPayload(StringValue.of("a").toByteString()).build().toByteArray();
                raw.sendFrame(1, Frame.TYPE_REQUEST, Frame.FLAG_REMOTE_CLOSED, req);
                RawConnection.Reply first = raw.readReply();
                assertEquals(Frame.TYPE_DATA, first.type());
                assertEquals("a", StringValue.parseFrom(first.data()).getValue());
                assertEquals("end", StringValue.parseFrom(raw.readReply().data()).getValue());
                RawConnection.Reply last = raw.readReply();
                assertEquals(Frame.TYPE_DATA, last.type());
                assertEquals(Frame.FLAG_REMOTE_CLOSED | Frame.FLAG_NO_DATA, last.flags());
                assertEquals(0, last.data().length);
            }
        }
    }
}
