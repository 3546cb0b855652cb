package dev.kava.ttrpc;

import static dev.kava.ttrpc.Echo.SERVICE;
import static dev.kava.ttrpc.Echo.TIMEOUT;
import static dev.kava.ttrpc.Echo.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.StringValue;
import com.google.protobuf.UInt32Value;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class StreamingTest {
    @TempDir Path dir;
    Echo echo;
    TtrpcClient client;
    final CountDownLatch serverSawEnd = new CountDownLatch(1);

    @BeforeEach
    void start() throws Exception {
        echo = new Echo(dir);
        // client-streaming: concatenates what the client sends, answers once at the end
        echo.server.registerStream(SERVICE, "Concat", StringValue.parser(), (stream, ctx) -> {
            StringBuilder all = new StringBuilder();
            StringValue m;
            while ((m = stream.receive()) != null) {
                all.append(m.getValue());
            }
            return s(all.toString());
        });
        // server-streaming: counts from 0 to n-1, ends with a closing data frame
        echo.server.registerStream(SERVICE, "Count", UInt32Value.parser(), (stream, ctx) -> {
            int n = stream.receive().getValue();
            for (int i = 0; i < n; i++) {
                stream.send(UInt32Value.of(i));
            }
            assertNull(stream.receive());
            return null;
        });
        // bidirectional: echoes each message as it comes
        echo.server.registerStream(SERVICE, "Chat", StringValue.parser(), (stream, ctx) -> {
            StringValue m;
            while ((m = stream.receive()) != null) {
                stream.send(s("re: " + m.getValue()));
            }
            serverSawEnd.countDown();
            return null;
        });
        echo.server.registerStream(SERVICE, "FailMidway", StringValue.parser(),
                (stream, ctx) -> {
                    stream.send(s("first"));
                    throw new TtrpcException(Code.ABORTED, "midway");
                });
        echo.server.registerStream(SERVICE, "Wait", StringValue.parser(), (stream, ctx) -> {
            try {
                while (stream.receive() != null) {
                    // drain until the client closes its side (null) or the server's own
                    // deadline cancels the call (receive throws CANCELLED), whichever first
                }
                return null;
            } finally {
                serverSawEnd.countDown();
            }
        });
        echo.listen();
        client = echo.connect();
    }

    @AfterEach
    void stop() {
        client.close();
        echo.close();
    }

    @Test
    void clientStreamingSendsManyAndGetsOneAnswer() throws Exception {
        try (ClientStream<StringValue> st = client.newStream(SERVICE, "Concat",
                StringValue.parser(), TIMEOUT)) {
            for (String part : List.of("a", "b", "", "cd")) {
                st.send(s(part));
            }
            st.closeSend();
            assertEquals("abcd", st.receive().getValue());
            assertNull(st.receive());
            assertNull(st.receive());
            assertTrue(st.isDone());
        }
    }

    @Test
    void serverStreamingSendsManyThenEnds() throws Exception {
        try (ClientStream<UInt32Value> st = client.newServerStream(SERVICE, "Count",
                UInt32Value.of(500), UInt32Value.parser(), TIMEOUT)) {
            List<Integer> got = new ArrayList<>();
            UInt32Value m;
            while ((m = st.receive()) != null) {
                got.add(m.getValue());
            }
            assertEquals(500, got.size());
            for (int i = 0; i < 500; i++) {
                assertEquals(i, got.get(i));
            }
        }
        assertEquals("unary still works", Echo.echo(client, "unary still works"));
    }

    @Test
    void bothDirectionsInterleave() throws Exception {
        try (ClientStream<StringValue> st = client.newStream(SERVICE, "Chat",
                StringValue.parser(), TIMEOUT)) {
            for (int i = 0; i < 100; i++) {
                st.send(s("m" + i));
                assertEquals("re: m" + i, st.receive().getValue());
            }
            st.closeSend();
            assertNull(st.receive());
        }
        assertTrue(serverSawEnd.await(5, TimeUnit.SECONDS));
    }

    @Test
    void manyConcurrentStreamsShareOneConnection() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int t = 0; t < 16; t++) {
            int id = t;
            threads.add(Thread.ofVirtual().start(() -> {
                try (ClientStream<StringValue> st = client.newStream(SERVICE, "Chat",
                        StringValue.parser(), TIMEOUT)) {
                    for (int i = 0; i < 50; i++) {
                        st.send(s(id + "/" + i));
                        assertEquals("re: " + id + "/" + i, st.receive().getValue());
                    }
                    st.closeSend();
                    assertNull(st.receive());
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
    void handlerFailureAfterDataEndsTheStreamWithItsStatus() throws Exception {
        try (ClientStream<StringValue> st = client.newServerStream(SERVICE, "FailMidway",
                s("go"), StringValue.parser(), TIMEOUT)) {
            assertEquals("first", st.receive().getValue());
            TtrpcException e = assertThrows(TtrpcException.class, st::receive);
            assertEquals(Code.ABORTED, e.code());
            assertEquals("midway", e.statusMessage());
        }
    }

    @Test
    void streamTimeoutFailsWithDeadlineExceededAndClosesTheSendingSide() throws Exception {
        try (ClientStream<StringValue> st = client.newStream(SERVICE, "Wait",
                StringValue.parser(), Duration.ofMillis(150))) {
            st.send(s("x"));
            TtrpcException e = assertThrows(TtrpcException.class, st::receive);
            assertEquals(Code.DEADLINE_EXCEEDED, e.code());
        }
        assertTrue(serverSawEnd.await(5, TimeUnit.SECONDS));
        Thread.sleep(100);
        assertTrue(client.isOpen());
        assertEquals("ok", Echo.echo(client, "ok"));
    }

    @Test
    void cancelReleasesTheReceiverAndTheConnectionStays() throws Exception {
        ClientStream<StringValue> st = client.newStream(SERVICE, "Wait", StringValue.parser(),
                TIMEOUT);
        Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(100);
            } catch (InterruptedException ignored) {
                return;
            }
            st.cancel();
        });
        TtrpcException e = assertThrows(TtrpcException.class, st::receive);
        assertEquals(Code.CANCELLED, e.code());
        assertThrows(TtrpcException.class, () -> st.send(s("late")));
        assertTrue(serverSawEnd.await(5, TimeUnit.SECONDS));
        assertEquals("ok", Echo.echo(client, "ok"));
    }

    @Test
    void unknownStreamMethodFailsWithUnimplemented() throws Exception {
        try (ClientStream<StringValue> st = client.newStream(SERVICE, "Missing",
                StringValue.parser(), TIMEOUT)) {
            assertEquals(Code.UNIMPLEMENTED, assertThrows(TtrpcException.class, st::receive)
                    .code());
        }
    }
}
