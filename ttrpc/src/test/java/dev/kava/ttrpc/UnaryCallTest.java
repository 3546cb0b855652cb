package dev.kava.ttrpc;

import static dev.kava.ttrpc.Echo.SERVICE;
import static dev.kava.ttrpc.Echo.TIMEOUT;
import static dev.kava.ttrpc.Echo.echo;
import static dev.kava.ttrpc.Echo.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.BytesValue;
import com.google.protobuf.StringValue;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class UnaryCallTest {
    @TempDir Path dir;
    Echo echo;
    TtrpcClient client;

    @BeforeEach
    void start() throws Exception {
        echo = new Echo(dir).listen();
        client = echo.connect();
    }

    @AfterEach
    void stop() {
        client.close();
        echo.close();
    }

    @Test
    void unaryCallReturnsTheHandlersAnswer() throws Exception {
        assertEquals("hello", echo(client, "hello"));
        assertEquals("", echo(client, ""));
        assertTrue(client.isOpen());
    }

    @Test
    void metadataAndDeadlineReachTheHandler() throws Exception {
        AtomicReference<CallContext> seen = new AtomicReference<>();
        echo.server.register(SERVICE, "Ctx", StringValue.parser(), (q, ctx) -> {
            seen.set(ctx);
            return q;
        });
        Instant before = Instant.now();
        client.call(SERVICE, "Ctx", s("x"), StringValue.parser(), Duration.ofSeconds(7),
                Map.of("trace", List.of("a", "b"), "user", List.of("root")));
        CallContext ctx = seen.get();
        assertEquals(List.of("a", "b"), ctx.metadata().get("trace"));
        assertEquals(List.of("root"), ctx.metadata().get("user"));
        assertNotNull(ctx.deadline());
        long seconds = Duration.between(before, ctx.deadline()).toMillis();
        assertTrue(seconds > 6_000 && seconds <= 7_500, "deadline " + seconds + " ms ahead");
        assertEquals("Ctx", ctx.method());

        client.call(SERVICE, "Ctx", s("x"), StringValue.parser(), null);
        assertNull(seen.get().deadline());
        assertTrue(seen.get().metadata().isEmpty());
    }

    @Test
    void callPastItsTimeoutFailsWithDeadlineExceededAndTheHandlerSeesCancellation()
            throws Exception {
        CountDownLatch cancelled = new CountDownLatch(1);
        echo.server.register(SERVICE, "Slow", StringValue.parser(), (q, ctx) -> {
            ctx.onCancel(cancelled::countDown);
            Thread.sleep(2_000);
            return q;
        });
        long t0 = System.nanoTime();
        TtrpcException e = assertThrows(TtrpcException.class, () -> client.call(SERVICE, "Slow",
                s("x"), StringValue.parser(), Duration.ofMillis(100)));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals(Code.DEADLINE_EXCEEDED, e.code());
        assertTrue(ms < 1_500, "took " + ms + " ms");
        assertTrue(cancelled.await(5, TimeUnit.SECONDS), "server never cancelled the call");
        // The late answer is dropped, not taken as a protocol error.
        Thread.sleep(2_100);
        assertTrue(client.isOpen());
        assertEquals("after", echo(client, "after"));
    }

    @Test
    void serverAnswersDeadlineExceededWhenTheHandlerOverruns() throws Exception {
        echo.server.register(SERVICE, "Slow", StringValue.parser(), (q, ctx) -> {
            while (!ctx.isCancelled()) {
                Thread.sleep(5);
            }
            return q;
        });
        // A raw call with a client-side timeout far beyond the one sent: only the server's
        // DEADLINE_EXCEEDED can end it this soon.
        try (RawConnection raw = new RawConnection(echo.socket)) {
            raw.sendRequest(1, SERVICE, "Slow", s("x").toByteString(), 50_000_000L);
            RawConnection.Reply r = raw.readReply();
            assertEquals(1, r.streamId());
            assertEquals(Code.DEADLINE_EXCEEDED.value(), r.response().getStatus().getCode());
        }
    }

    @Test
    void unknownMethodFailsWithUnimplemented() {
        TtrpcException e = assertThrows(TtrpcException.class, () -> client.call(SERVICE, "Nope",
                s("x"), StringValue.parser(), TIMEOUT));
        assertEquals(Code.UNIMPLEMENTED, e.code());
        assertEquals("service " + SERVICE + " method Nope not found", e.statusMessage());
        TtrpcException e2 = assertThrows(TtrpcException.class, () -> client.call("no.Such",
                "Echo", s("x"), StringValue.parser(), TIMEOUT));
        assertEquals(Code.UNIMPLEMENTED, e2.code());
    }

    @Test
    void handlerExceptionBecomesUnknownWithItsMessage() {
        echo.server.register(SERVICE, "Boom", StringValue.parser(), (q, ctx) -> {
            throw new IllegalStateException("container " + q.getValue() + " is gone");
        });
        TtrpcException e = assertThrows(TtrpcException.class, () -> client.call(SERVICE, "Boom",
                s("c1"), StringValue.parser(), TIMEOUT));
        assertEquals(Code.UNKNOWN, e.code());
        assertEquals("container c1 is gone", e.statusMessage());
    }

    @Test
    void handlerTtrpcExceptionKeepsItsCodeMessageAndDetails() {
        Any detail = Any.newBuilder().setTypeUrl("type.googleapis.com/google.protobuf.StringValue")
                .setValue(StringValue.of("why").toByteString()).build();
        echo.server.register(SERVICE, "NotFound", StringValue.parser(), (q, ctx) -> {
            throw new TtrpcException(Code.NOT_FOUND, "no container " + q.getValue(),
                    List.of(detail), null);
        });
        TtrpcException e = assertThrows(TtrpcException.class, () -> client.call(SERVICE,
                "NotFound", s("c2"), StringValue.parser(), TIMEOUT));
        assertEquals(Code.NOT_FOUND, e.code());
        assertEquals("no container c2", e.statusMessage());
        assertEquals(List.of(detail), e.details());
    }

    @Test
    void sixtyFourConcurrentCallersEachGetTheirOwnAnswers() throws Exception {
        echo.server.register(SERVICE, "Upper", StringValue.parser(), (q, ctx) -> {
            Thread.sleep(q.getValue().hashCode() & 3); // answers come back out of order
            return s(q.getValue().toUpperCase());
        });
        List<Thread> threads = new ArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int i = 0; i < 64; i++) {
            int caller = i;
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    for (int j = 0; j < 50; j++) {
                        String mine = "caller-" + caller + "-call-" + j + "-" + "x".repeat(j);
                        StringValue r = client.call(SERVICE, "Upper", s(mine),
                                StringValue.parser(), TIMEOUT);
                        assertEquals(mine.toUpperCase(), r.getValue());
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
    }

    @Test
    void callAsyncCompletesAndItsCancellationReleasesTheCaller() throws Exception {
        assertEquals("async", client.callAsync(SERVICE, "Echo", s("async"),
                StringValue.parser(), TIMEOUT).get(5, TimeUnit.SECONDS).getValue());

        CountDownLatch entered = new CountDownLatch(1);
        echo.server.register(SERVICE, "Hang", StringValue.parser(), (q, ctx) -> {
            entered.countDown();
            Thread.sleep(1_000);
            return q;
        });
        CompletableFuture<StringValue> f = client.callAsync(SERVICE, "Hang", s("x"),
                StringValue.parser(), TIMEOUT);
        assertTrue(entered.await(5, TimeUnit.SECONDS));
        assertTrue(f.cancel(true));
        assertThrows(CancellationException.class, f::join);
        Thread.sleep(1_100); // the late response is dropped quietly
        assertTrue(client.isOpen());
        assertEquals("still", echo(client, "still"));

        ExecutionException ee = assertThrows(ExecutionException.class, () -> client.callAsync(
                SERVICE, "Nope", s("x"), StringValue.parser(), TIMEOUT).get());
        assertEquals(Code.UNIMPLEMENTED, assertInstanceOf(TtrpcException.class, ee.getCause())
                .code());
    }

    @Test
    void interruptReleasesABlockedCallerWithCancelled() throws Exception {
        echo.server.register(SERVICE, "Hang", StringValue.parser(), (q, ctx) -> {
            Thread.sleep(1_000);
            return q;
        });
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread caller = Thread.ofVirtual().start(() -> {
            try {
                client.call(SERVICE, "Hang", s("x"), StringValue.parser(), TIMEOUT);
            } catch (Throwable t) {
                thrown.set(t);
            }
        });
        Thread.sleep(100);
        caller.interrupt();
        caller.join(2_000);
        assertEquals(Code.CANCELLED, assertInstanceOf(TtrpcException.class, thrown.get())
                .code());
        assertTrue(client.isOpen(), "an interrupt must not close the connection");
        assertEquals("ok", echo(client, "ok"));
    }

    @Test
    void oversizedRequestFailsWithResourceExhaustedAndTheConnectionStays() throws Exception {
        echo.server.register(SERVICE, "Bytes", BytesValue.parser(), (q, ctx) -> q);
        BytesValue big = BytesValue.of(ByteString.copyFrom(new byte[4 << 20]));
        TtrpcException e = assertThrows(TtrpcException.class, () -> client.call(SERVICE,
                "Bytes", big, BytesValue.parser(), TIMEOUT));
        assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
        assertTrue(client.isOpen());
        // Just under the limit passes both ways.
        BytesValue fits = BytesValue.of(ByteString.copyFrom(new byte[(4 << 20) - 200]));
        assertEquals(fits, client.call(SERVICE, "Bytes", fits, BytesValue.parser(), TIMEOUT));
    }

    @Test
    void oversizedResponseFailsWithResourceExhausted() throws Exception {
        echo.server.register(SERVICE, "Grow", StringValue.parser(),
                (q, ctx) -> BytesValue.of(ByteString.copyFrom(new byte[5 << 20])));
        TtrpcException e = assertThrows(TtrpcException.class, () -> client.call(SERVICE,
                "Grow", s("x"), BytesValue.parser(), TIMEOUT));
        assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
        assertEquals("ok", echo(client, "ok"));
    }
}
