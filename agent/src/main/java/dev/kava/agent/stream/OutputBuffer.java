package dev.kava.agent.stream;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded byte ring between one producer (a pump thread reading a pipe) and readers (RPC
 * handlers). The producer blocks while the ring is full, so the container blocks on its next
 * write: no byte is dropped, memory stays bounded. Readers block until a byte or end of stream.
 */
public final class OutputBuffer {
    private final byte[] ring;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition readable = lock.newCondition();
    private final Condition writable = lock.newCondition();
    private int head;
    private int size;
    private boolean finished;
    private boolean discarded;

    public OutputBuffer(int capacity) {
        ring = new byte[capacity];
    }

    /** A buffer already at end of stream (a tty's stderr). */
    public static OutputBuffer empty() {
        OutputBuffer b = new OutputBuffer(1);
        b.finish();
        return b;
    }

    /**
     * Appends all of {@code b[off, off+len)}, blocking while the ring is full. Returns false (and
     * drops the bytes) once the buffer is discarded.
     */
    public boolean put(byte[] b, int off, int len) throws InterruptedException {
        lock.lockInterruptibly();
        try {
            while (len > 0) {
                while (size == ring.length && !discarded) {
                    writable.await();
                }
                if (discarded) {
                    return false;
                }
                int tail = (head + size) % ring.length;
                int n = Math.min(len, Math.min(ring.length - size, ring.length - tail));
                System.arraycopy(b, off, ring, tail, n);
                size += n;
                off += n;
                len -= n;
                readable.signalAll();
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Marks end of stream: readers get what is left, then empty arrays. */
    public void finish() {
        lock.lock();
        try {
            finished = true;
            readable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Drops the content and any later writes; wakes a blocked producer. Readers see EOF. */
    public void discard() {
        lock.lock();
        try {
            discarded = true;
            finished = true;
            size = 0;
            readable.signalAll();
            writable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes 1 to {@code max} bytes, blocking until there is at least one; an empty array means
     * end of stream.
     */
    public byte[] take(int max) throws InterruptedException {
        return take(max, Long.MAX_VALUE);
    }

    /** As {@link #take(int)}, but returns null if nothing came within {@code timeoutNanos}. */
    public byte[] take(int max, long timeoutNanos) throws InterruptedException {
        if (max <= 0) {
            throw new IllegalArgumentException("max " + max);
        }
        lock.lockInterruptibly();
        try {
            long left = timeoutNanos;
            while (size == 0 && !finished) {
                if (left == Long.MAX_VALUE) {
                    readable.await();
                } else {
                    if (left <= 0) {
                        return null;
                    }
                    left = readable.awaitNanos(left);
                }
            }
            int n = Math.min(max, size);
            byte[] out = new byte[n];
            int first = Math.min(n, ring.length - head);
            System.arraycopy(ring, head, out, 0, first);
            System.arraycopy(ring, 0, out, first, n - first);
            head = (head + n) % ring.length;
            size -= n;
            if (size == 0) {
                head = 0;
            }
            writable.signalAll();
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes waiting to be read. */
    public int available() {
        lock.lock();
        try {
            return size;
        } finally {
            lock.unlock();
        }
    }

    /** True once finished and drained. */
    public boolean atEnd() {
        lock.lock();
        try {
            return finished && size == 0;
        } finally {
            lock.unlock();
        }
    }
}
