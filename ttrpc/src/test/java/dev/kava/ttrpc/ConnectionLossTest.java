package dev.kava.ttrpc;

import static dev.kava.ttrpc.Echo.SERVICE;
import static dev.kava.ttrpc.Echo.TIMEOUT;
import static dev.kava.ttrpc.Echo.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.StringValue;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class ConnectionLossTest {
    @TempDir Path dir;

    @Test
    void serverGoingAwayFailsEveryPendingCallWithUnavailableAtOnce() throws Exception {
        try (Echo echo = new Echo(dir)) {
            CountDownLatch entered = new CountDownLatch(16);
            echo.server.register(SERVICE, "Hang", StringValue.parser(), (q, ctx) -> {
                entered.countDown();
                Thread.sleep(60_000);
                return q;
            });
            echo.listen();
            TtrpcClient client = echo.connect();
            List<CompletableFuture<StringValue>> calls = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                calls.add(client.callAsync(SERVICE, "Hang", s("x"), StringValue.parser(),
                        Duration.ofSeconds(60)));
            }
            assertTrue(entered.await(5, TimeUnit.SECONDS));

            long t0 = System.nanoTime();
            echo.server.close();
            for (CompletableFuture<StringValue> call : calls) {
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> call.get(2, TimeUnit.SECONDS));
                assertEquals(Code.UNAVAILABLE,
                        assertInstanceOf(TtrpcException.class, e.getCause()).code());
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(ms < 2_000, "pending calls failed after " + ms + " ms");
            assertFalse(client.isOpen());

            TtrpcException later = assertThrows(TtrpcException.class, () -> client.call(SERVICE,
                    "Echo", s("x"), StringValue.parser(), TIMEOUT));
            assertEquals(Code.UNAVAILABLE, later.code());
        }
    }

    @Test
    void closingTheClientFailsItsPendingCallsAndCancelsTheServersHandlers() throws Exception {
        try (Echo echo = new Echo(dir)) {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch cancelled = new CountDownLatch(1);
            echo.server.register(SERVICE, "Hang", StringValue.parser(), (q, ctx) -> {
                ctx.onCancel(cancelled::countDown);
                entered.countDown();
                Thread.sleep(60_000);
                return q;
            });
            echo.listen();
            TtrpcClient client = echo.connect();
            CompletableFuture<StringValue> call = client.callAsync(SERVICE, "Hang", s("x"),
                    StringValue.parser(), null);
            assertTrue(entered.await(5, TimeUnit.SECONDS));
            client.close();
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> call.get(2, TimeUnit.SECONDS));
            assertEquals(Code.UNAVAILABLE, ((TtrpcException) e.getCause()).code());
            assertTrue(cancelled.await(5, TimeUnit.SECONDS), "handler not cancelled");
            assertTrue(MalformedFrameTest.waitFor(() -> echo.server.connectionCount() == 0));
        }
    }

    @Test
    void blockedSynchronousCallerIsReleasedWhenTheConnectionDrops() throws Exception {
        try (Echo echo = new Echo(dir)) {
            echo.server.register(SERVICE, "Hang", StringValue.parser(), (q, ctx) -> {
                Thread.sleep(60_000);
                return q;
            });
            echo.listen();
            TtrpcClient client = echo.connect();
            CompletableFuture<TtrpcException> outcome = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    client.call(SERVICE, "Hang", s("x"), StringValue.parser(), null);
                    outcome.complete(null);
                } catch (TtrpcException e) {
                    outcome.complete(e);
                }
            });
            Thread.sleep(200);
            echo.server.close();
            assertEquals(Code.UNAVAILABLE, outcome.get(2, TimeUnit.SECONDS).code());
        }
    }
}
