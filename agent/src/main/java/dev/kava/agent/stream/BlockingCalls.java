package dev.kava.agent.stream;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs native calls that may block (a write to a full pipe) on platform threads, so a virtual
 * thread that waits for them does not pin its carrier. Threads are made on demand and die after
 * 30 s idle: an idle agent holds none.
 */
public final class BlockingCalls {
    private static final AtomicInteger COUNT = new AtomicInteger();
    private static final ExecutorService POOL = new ThreadPoolExecutor(0, Integer.MAX_VALUE,
            30, TimeUnit.SECONDS, new SynchronousQueue<>(),
            r -> Thread.ofPlatform().daemon().stackSize(256 * 1024)
                    .name("blocking-" + COUNT.incrementAndGet()).unstarted(r));

    private BlockingCalls() {}

    /**
     * Runs {@code call} on a platform thread and waits for it. If the waiting thread is
     * interrupted the call goes on in the background and InterruptedException is thrown.
     */
    public static <T> T call(Callable<T> call) throws Exception {
        Future<T> f = POOL.submit(call);
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof Exception ex) {
                throw ex;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }
}
