package dev.kava.ttrpc;

import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The one timer of the module: a single daemon platform thread ("ttrpc-deadlines") that fires
 * call deadlines on both sides. Tasks only complete futures and set flags; they never block.
 */
final class Deadlines {
    private static final ScheduledThreadPoolExecutor TIMER;

    static {
        TIMER = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "ttrpc-deadlines");
            t.setDaemon(true);
            return t;
        });
        TIMER.setRemoveOnCancelPolicy(true);
    }

    private Deadlines() {}

    static ScheduledFuture<?> after(Duration delay, Runnable task) {
        return TIMER.schedule(task, Math.max(0, toNanos(delay)), TimeUnit.NANOSECONDS);
    }

    static long toNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }
}
