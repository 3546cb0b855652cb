package dev.kava.cli;

import dev.kava.ttrpc.bench.RoundTripBenchmark;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kava bench ttrpc}: unary round trips over a unix socket, 1 and 64 callers. */
@Command(name = "ttrpc", description = "ttrpc unary round trips per second and latency over a unix socket.")
final class TtrpcBench implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "5", description = "measured seconds per caller count (default: ${DEFAULT-VALUE})")
    int seconds;

    @Option(names = "--callers", split = ",", defaultValue = "1,64", description = "caller counts (default: ${DEFAULT-VALUE})")
    List<Integer> callers;

    @Option(names = "--payload", defaultValue = "64", description = "payload bytes (default: ${DEFAULT-VALUE})")
    int payload;

    @Override
    public Integer call() throws Exception {
        System.out.printf("%-8s %12s %14s %10s %10s%n", "callers", "calls", "calls/s", "p50 us", "p99 us");
        for (int n : callers) {
            var r = RoundTripBenchmark.run(n, Duration.ofSeconds(seconds), payload);
            System.out.printf("%-8d %12d %14.0f %10.1f %10.1f%n", r.callers(), r.calls(), r.callsPerSecond(), r.p50Micros(), r.p99Micros());
        }
        return 0;
    }
}
