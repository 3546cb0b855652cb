package dev.kava.virtio.fs;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The platform threads that serve FUSE requests off a device's own thread (requests block in file
 * system calls), as both virtio-fs devices use them: a fixed number of threads that exit after
 * 30 s idle (an idle share costs no thread), a count of the requests handed over and not yet
 * finished, and {@link #quiesce()}, which waits for them (a device's memory and rings must not
 * change under a worker).
 */
final class RequestWorkers implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RequestWorkers.class.getName());

    private final String tag;
    private final ThreadPoolExecutor pool;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition idle = lock.newCondition();
    /** Tasks handed over and not yet finished; guarded by {@link #lock}. */
    private int inFlight;

    /** {@code threads} workers (1..64) named "virtio-fs TAG worker-N". */
    RequestWorkers(String tag, int threads) {
        this.tag = tag;
        AtomicInteger n = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                r -> Thread.ofPlatform().daemon().name("virtio-fs " + tag + " worker-" + n.incrementAndGet()).unstarted(r));
        this.pool.allowCoreThreadTimeOut(true);
    }

    /**
     * Runs {@code task} on a worker; counted in flight until it returns. False when the workers
     * are closed (the task will never run).
     */
    boolean submit(Runnable task) {
        started();
        try {
            pool.execute(() -> {
                try {
                    task.run();
                } finally {
                    finished();
                }
            });
            return true;
        } catch (RuntimeException rejected) {
            finished();
            return false;
        }
    }

    /** Tasks handed over and not yet finished. */
    int inFlight() {
        lock.lock();
        try {
            return inFlight;
        } finally {
            lock.unlock();
        }
    }

    private void started() {
        lock.lock();
        try {
            inFlight++;
        } finally {
            lock.unlock();
        }
    }

    private void finished() {
        lock.lock();
        try {
            if (--inFlight == 0) {
                idle.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Waits until no task is running or queued; warns once after 10 s (a host file system not answering?). */
    void quiesce() {
        lock.lock();
        try {
            long warnAt = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            boolean warned = false;
            while (inFlight > 0) {
                long left = warnAt - System.nanoTime();
                if (left <= 0 && !warned) {
                    warned = true;
                    LOG.log(System.Logger.Level.WARNING, "virtio-fs " + tag + ": " + inFlight
                            + " requests still running after 10 s (a host file system not answering?)");
                }
                idle.awaitNanos(warned ? TimeUnit.SECONDS.toNanos(10) : left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /** Stops the threads after the tasks queued; idempotent. */
    @Override
    public void close() {
        pool.shutdown();
        try {
            if (!pool.awaitTermination(10, TimeUnit.SECONDS)) {
                List<Runnable> dropped = new ArrayList<>(pool.shutdownNow());
                dropped.forEach(r -> finished()); // never to run: they no longer count as in flight
                LOG.log(System.Logger.Level.WARNING, "virtio-fs " + tag + ": workers did not stop within 10 s; "
                        + dropped.size() + " requests dropped");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            pool.shutdownNow();
        }
    }
}
