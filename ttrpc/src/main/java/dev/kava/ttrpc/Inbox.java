package dev.kava.ttrpc;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The messages of one stream that arrived but were not yet received: filled by the
 * connection's reader thread (which must never block), drained by the stream's user. ttrpc has
 * no flow control, so the bytes waiting are capped; past the cap the stream fails.
 */
final class Inbox {
    /** Bytes one stream may hold unreceived. */
    static final long MAX_BYTES = 16L << 20;
    /** Accounted per message on top of its bytes, so empty messages count too. */
    private static final int OVERHEAD = 64;

    /** The end of the peer's messages. */
    static final Object END = new Object();

    private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final AtomicLong bytes = new AtomicLong();

    /** Adds a message; false when the stream is over its cap (nothing was added). */
    boolean offer(byte[] message) {
        long size = message.length + OVERHEAD;
        if (bytes.addAndGet(size) > MAX_BYTES) {
            bytes.addAndGet(-size);
            return false;
        }
        queue.add(message);
        return true;
    }

    /** Adds a message whatever the cap (the last one of a stream). */
    void put(byte[] message) {
        bytes.addAndGet(message.length + OVERHEAD);
        queue.add(message);
    }

    /** Adds {@link #END} or a terminal {@link TtrpcException}; never refused. */
    void finish(Object terminal) {
        queue.add(terminal);
    }

    /** The next item: a {@code byte[]} message, {@link #END}, or a {@link TtrpcException}. */
    Object take() throws InterruptedException {
        Object item = queue.take();
        if (item instanceof byte[] b) {
            bytes.addAndGet(-(b.length + OVERHEAD));
        }
        return item;
    }
}
