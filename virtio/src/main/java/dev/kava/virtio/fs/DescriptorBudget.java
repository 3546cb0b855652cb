package dev.kava.virtio.fs;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Host descriptors that the file servers of one process draw from together: every inode a guest
 * holds and every file it has open is one descriptor. Each server also has its own caps
 * ({@link FsConfig#maxInodes()}, {@link FsConfig#maxHandles()}); the budget keeps all of them
 * together below the process's {@code RLIMIT_NOFILE}, so that guests exhausting their shares
 * never leave the process itself without descriptors, while one busy share may still use what the
 * others leave. Thread-safe.
 */
public final class DescriptorBudget {
    /** No budget: only each server's own caps apply. */
    public static final DescriptorBudget UNLIMITED = new DescriptorBudget(Long.MAX_VALUE);

    private final AtomicLong left;

    /** A budget of {@code size} descriptors. */
    public DescriptorBudget(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("a budget cannot be negative: " + size);
        }
        this.left = new AtomicLong(size);
    }

    /** Takes one descriptor; false when none is left. */
    boolean tryTake() {
        while (true) {
            long n = left.get();
            if (n <= 0) {
                return false;
            }
            if (left.compareAndSet(n, n - 1)) {
                return true;
            }
        }
    }

    /** Gives one back. */
    void give() {
        left.incrementAndGet();
    }

    /** Descriptors left now. */
    public long left() {
        return left.get();
    }
}
