package dev.kava.ttrpc.bench;

import com.google.protobuf.ByteString;
import com.google.protobuf.BytesValue;
import dev.kava.ttrpc.ByteStreams;
import dev.kava.ttrpc.TtrpcClient;
import dev.kava.ttrpc.TtrpcException;
import dev.kava.ttrpc.TtrpcServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Unary round trips over a unix socket in a temporary directory: one server with an echo
 * handler, one client connection shared by {@code callers} virtual threads, each calling in a
 * loop. A warm-up run comes first and is not counted.
 */
public final class RoundTripBenchmark {
    private static final String SERVICE = "kava.bench.Echo";
    private static final String METHOD = "Echo";
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);

    /** Calls made, their rate, and the latency percentiles of one call. */
    public record Result(int callers, long calls, double callsPerSecond, double p50Micros,
            double p99Micros) {
        @Override
        public String toString() {
            return String.format("callers=%d calls=%d calls/s=%.0f p50=%.1fus p99=%.1fus",
                    callers, calls, callsPerSecond, p50Micros, p99Micros);
        }
    }

    private RoundTripBenchmark() {}

    public static Result run(int callers, Duration duration, int payloadBytes) {
        if (callers < 1 || payloadBytes < 0 || !duration.isPositive()) {
            throw new IllegalArgumentException("callers >= 1, payloadBytes >= 0, duration > 0");
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("kava-ttrpc-bench");
            Path socket = dir.resolve("echo.sock");
            try (TtrpcServer server = new TtrpcServer()) {
                server.register(SERVICE, METHOD, BytesValue.parser(), (q, ctx) -> q);
                server.listen(socket);
                try (TtrpcClient client = new TtrpcClient(ByteStreams.connectUnix(socket))) {
                    BytesValue request = BytesValue.of(ByteString.copyFrom(
                            new byte[payloadBytes]));
                    Duration warmUp = duration.compareTo(Duration.ofSeconds(2)) < 0
                            ? duration : Duration.ofSeconds(2);
                    measure(client, request, callers, warmUp);
                    return measure(client, request, callers, duration);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (dir != null) {
                try {
                    Files.deleteIfExists(dir.resolve("echo.sock"));
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // a temp dir left behind
                }
            }
        }
    }

    private static Result measure(TtrpcClient client, BytesValue request, int callers,
            Duration duration) {
        long[][] samples = new long[callers][];
        int[] counts = new int[callers];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>(callers);
        long start = System.nanoTime();
        long end = start + duration.toNanos();
        for (int i = 0; i < callers; i++) {
            int caller = i;
            threads.add(Thread.ofVirtual().name("bench-caller-" + i).start(() -> {
                long[] mine = new long[1 << 14];
                int n = 0;
                try {
                    long now = System.nanoTime();
                    while (now < end) {
                        BytesValue reply = client.call(SERVICE, METHOD, request,
                                BytesValue.parser(), CALL_TIMEOUT);
                        long after = System.nanoTime();
                        if (reply.getValue().size() != request.getValue().size()) {
                            throw new IllegalStateException("echo changed the payload");
                        }
                        if (n == mine.length) {
                            mine = Arrays.copyOf(mine, n * 2);
                        }
                        mine[n++] = after - now;
                        now = after;
                    }
                } catch (TtrpcException | RuntimeException e) {
                    failure.compareAndSet(null, e);
                }
                samples[caller] = mine;
                counts[caller] = n;
            }));
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        long elapsed = System.nanoTime() - start;
        if (failure.get() != null) {
            throw new IllegalStateException("benchmark call failed", failure.get());
        }
        int total = 0;
        for (int c : counts) {
            total += c;
        }
        long[] all = new long[total];
        int at = 0;
        for (int i = 0; i < callers; i++) {
            System.arraycopy(samples[i], 0, all, at, counts[i]);
            at += counts[i];
        }
        Arrays.sort(all);
        return new Result(callers, total, total / (elapsed / 1e9),
                percentile(all, 0.50) / 1e3, percentile(all, 0.99) / 1e3);
    }

    private static double percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    /** Prints results for 1 and 64 callers: {@code [seconds [payloadBytes]]}, default 5 and 64. */
    public static void main(String[] args) {
        Duration duration = Duration.ofSeconds(args.length > 0 ? Long.parseLong(args[0]) : 5);
        int payload = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        System.out.println("ttrpc unary round trip, unix socket, " + payload + "-byte payload, "
                + Runtime.getRuntime().availableProcessors() + " cpus");
        for (int callers : new int[] {1, 64}) {
            System.out.println(run(callers, duration, payload));
        }
    }
}
