package dev.kava.ttrpc;

import static dev.kava.ttrpc.Echo.SERVICE;
import static dev.kava.ttrpc.Echo.TIMEOUT;
import static dev.kava.ttrpc.Echo.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.StringValue;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What every transport must do, written once: each subclass connects a client to {@link
 * #server} its own way (unix socket, OS pipes as a serial port would be, java.io piped streams).
 */
@Timeout(30)
abstract class TransportContract {
    /** A connected client, and a way to drop the connection from the server's side. */
    record Link(TtrpcClient client, AutoCloseable serverSide) {}

    final TtrpcServer server = new TtrpcServer();
    final CountDownLatch hangEntered = new CountDownLatch(1);
    Link link;

    abstract Link connect(TtrpcServer server) throws Exception;

    @BeforeEach
    void startContract() throws Exception {
        server.register(SERVICE, "Echo", StringValue.parser(), (q, ctx) -> q);
        server.register(SERVICE, "Hang", StringValue.parser(), (q, ctx) -> {
            hangEntered.countDown();
            Thread.sleep(60_000);
            return q;
        });
        server.registerStream(SERVICE, "Split", StringValue.parser(), (stream, ctx) -> {
            for (char c : stream.receive().getValue().toCharArray()) {
                stream.send(s(String.valueOf(c)));
            }
            return null;
        });
        server.registerStream(SERVICE, "Join", StringValue.parser(), (stream, ctx) -> {
            StringBuilder b = new StringBuilder();
            for (StringValue m; (m = stream.receive()) != null; ) {
                b.append(m.getValue());
            }
            return s(b.toString());
        });
        link = connect(server);
    }

    @AfterEach
    void stopContract() throws Exception {
        link.client().close();
        server.close();
    }

    @Test
    void unaryRoundTrip() throws Exception {
        assertEquals("over the wire", Echo.echo(link.client(), "over the wire"));
    }

    @Test
    void concurrentCallersGetTheirOwnAnswers() throws Exception {
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 32; t++) {
            int id = t;
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    for (int i = 0; i < 20; i++) {
                        String mine = id + ":" + i + ":" + "y".repeat(i * 100);
                        assertEquals(mine, Echo.echo(link.client(), mine));
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread th : threads) {
            th.join();
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void serverStreaming() throws Exception {
        try (ClientStream<StringValue> st = link.client().newServerStream(SERVICE, "Split",
                s("abc"), StringValue.parser(), TIMEOUT)) {
            assertEquals("a", st.receive().getValue());
            assertEquals("b", st.receive().getValue());
            assertEquals("c", st.receive().getValue());
            assertNull(st.receive());
        }
    }

    @Test
    void clientStreaming() throws Exception {
        try (ClientStream<StringValue> st = link.client().newStream(SERVICE, "Join",
                StringValue.parser(), TIMEOUT)) {
            st.send(s("x"));
            st.send(s("y"));
            st.closeSend();
            assertEquals("xy", st.receive().getValue());
            assertNull(st.receive());
        }
    }

    @Test
    void eofFromTheServerFailsPendingCallsWithUnavailable() throws Exception {
        CompletableFuture<StringValue> call = link.client().callAsync(SERVICE, "Hang", s("x"),
                StringValue.parser(), null);
        assertTrue(hangEntered.await(5, TimeUnit.SECONDS));
        link.serverSide().close();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> call.get(3, TimeUnit.SECONDS));
        assertEquals(Code.UNAVAILABLE,
                assertInstanceOf(TtrpcException.class, e.getCause()).code());
        assertFalse(link.client().isOpen());
    }
}
