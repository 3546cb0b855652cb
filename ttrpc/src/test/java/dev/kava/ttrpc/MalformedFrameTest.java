package dev.kava.ttrpc;

import static dev.kava.ttrpc.Echo.echo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.StringValue;
import dev.kava.ttrpc.wire.Request;
import dev.kava.ttrpc.wire.Response;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** A misbehaving peer loses its own connection, and only that. */
@Timeout(30)
class MalformedFrameTest {
    @TempDir Path dir;
    Echo echo;
    TtrpcClient good;
    final List<LogRecord> logged = new CopyOnWriteArrayList<>();
    final Handler capture = new Handler() {
        @Override public void publish(LogRecord r) { logged.add(r); }
        @Override public void flush() {}
        @Override public void close() {}
    };

    @BeforeEach
    void start() throws Exception {
        Logger.getLogger("dev.kava.ttrpc").addHandler(capture);
        echo = new Echo(dir).listen();
        good = echo.connect();
        assertEquals("before", echo(good, "before"));
    }

    @AfterEach
    void stop() {
        Logger.getLogger("dev.kava.ttrpc").removeHandler(capture);
        good.close();
        echo.close();
    }

    static List<Object[]> badInputs() {
        byte[] request = Request.newBuilder().setService(Echo.SERVICE)
                .setMethod("Echo").build().toByteArray();
        return List.of(
                new Object[] {"garbage", "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes()},
                new Object[] {"oversized length", RawConnection.frame((4 << 20) + 1, 1, 1, 0,
                        new byte[0])},
                new Object[] {"huge length", RawConnection.frame(-1, 1, 1, 0, new byte[0])},
                new Object[] {"unknown type", RawConnection.frame(0, 1, 9, 0, new byte[0])},
                new Object[] {"unparseable request", RawConnection.frame(3, 1, 1, 0,
                        new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff})},
                new Object[] {"even stream id", RawConnection.frame(request.length, 2, 1, 0,
                        request)},
                new Object[] {"response from a client", RawConnection.frame(0, 1, 2, 0,
                        new byte[0])},
                new Object[] {"data for a stream never opened", RawConnection.frame(0, 7, 3, 0,
                        new byte[0])});
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInputs")
    void badFrameClosesThatConnectionWhileOthersKeepWorking(String what, byte[] bytes)
            throws Exception {
        try (RawConnection raw = new RawConnection(echo.socket)) {
            raw.write(bytes);
            assertTrue(raw.closedByPeer(), what + ": connection left open");
        }
        assertEquals("after " + what, echo(good, "after " + what));
        assertTrue(logged.stream().anyMatch(r -> r.getLevel() == Level.WARNING),
                "no warning logged");
    }

    @Test
    void truncatedFrameThenEofClosesThatConnectionOnly() throws Exception {
        try (RawConnection raw = new RawConnection(echo.socket)) {
            byte[] whole = RawConnection.frame(100, 1, 1, 0, new byte[40]); // 60 bytes short
            raw.write(whole);
            raw.ch.shutdownOutput();
            assertTrue(raw.closedByPeer());
        }
        assertEquals("still", echo(good, "still"));
        assertTrue(waitFor(() -> echo.server.connectionCount() == 1));
    }

    @Test
    void reusedStreamIdClosesThatConnection() throws Exception {
        try (RawConnection raw = new RawConnection(echo.socket)) {
            raw.sendRequest(5, Echo.SERVICE, "Echo", StringValue.of("a").toByteString(), 0);
            assertEquals(5, raw.readReply().streamId());
            raw.sendRequest(3, Echo.SERVICE, "Echo", StringValue.of("b").toByteString(), 0);
            assertTrue(raw.closedByPeer());
        }
        assertEquals("fine", echo(good, "fine"));
    }

    @Test
    void clientClosesItsConnectionOnAResponseForAnUnknownStream() throws Exception {
        Path sock = dir.resolve("evil.sock");
        try (ServerSocketChannel listener = ServerSocketChannel.open(
                StandardProtocolFamily.UNIX)) {
            listener.bind(UnixDomainSocketAddress.of(sock));
            TtrpcClient victim = new TtrpcClient(ByteStreams.connectUnix(sock));
            try (RawConnection evil = new RawConnection(listener.accept())) {
                CompletableFuture<StringValue> pending = victim.callAsync(Echo.SERVICE, "Echo", StringValue.of("x"),
                        StringValue.parser(), Echo.TIMEOUT);
                RawConnection.Reply req = evil.readReply();
                assertEquals(1, req.streamId());
                byte[] resp = Response.getDefaultInstance().toByteArray();
                evil.sendFrame(99, 2, 0, resp);
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> pending.get(5, TimeUnit.SECONDS));
                assertEquals(Code.UNAVAILABLE,
                        assertInstanceOf(TtrpcException.class, e.getCause()).code());
                assertFalse(victim.isOpen());
                assertTrue(evil.closedByPeer());
            } finally {
                victim.close();
            }
        }
    }

    static boolean waitFor(BooleanSupplier condition) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < end) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(10);
        }
        return condition.getAsBoolean();
    }
}
