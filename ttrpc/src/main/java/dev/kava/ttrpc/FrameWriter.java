package dev.kava.ttrpc;

import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.logging.Level;

/**
 * Writes the frames of one connection from a thread of its own ("ttrpc-writer").
 *
 * <p>Callers only enqueue whole frames, so frames never interleave, and a caller's interrupt
 * never reaches the stream: interrupting a thread blocked in a write on an {@code
 * InterruptibleChannel} (a socket) would close the connection for every call on it. The writer
 * drains what is queued into one write, so concurrent calls share a system call.
 */
final class FrameWriter {
    /** Frames gathered into one write, at most. */
    private static final int GATHER_BYTES = 256 * 1024;
    /** Bytes that may wait in the queue (the peer reads slowly or not at all). */
    static final long MAX_QUEUED_BYTES = 64L << 20;
    private static final byte[] STOP = new byte[0];

    private final OutputStream out;
    private final Consumer<IOException> onFailure;
    private final LinkedBlockingQueue<byte[]> queue = new LinkedBlockingQueue<>();
    private final AtomicLong queuedBytes = new AtomicLong();
    private final String name;
    private volatile boolean closed;

    FrameWriter(OutputStream out, ThreadFactory threads, String name,
            Consumer<IOException> onFailure) {
        this.out = out;
        this.onFailure = onFailure;
        this.name = name;
        Thread t = threads.newThread(this::run);
        if (t == null) {
            throw new IllegalStateException("thread factory refused the writer thread");
        }
        t.start();
    }

    /**
     * Queues one frame.
     *
     * @throws TtrpcException RESOURCE_EXHAUSTED for data over 4 MiB or a full queue,
     *     UNAVAILABLE when the connection is closed
     */
    void send(int streamId, byte type, byte flags, byte[] data) throws TtrpcException {
        if (data.length > Frame.MAX_DATA_LENGTH) {
            throw Statuses.tooLarge("message", data.length);
        }
        if (closed) {
            throw Statuses.unavailable("connection closed", null);
        }
        byte[] frame = new byte[Frame.HEADER_LENGTH + data.length];
        putInt(frame, 0, data.length);
        putInt(frame, 4, streamId);
        frame[8] = type;
        frame[9] = flags;
        System.arraycopy(data, 0, frame, Frame.HEADER_LENGTH, data.length);
        if (queuedBytes.addAndGet(frame.length) > MAX_QUEUED_BYTES) {
            queuedBytes.addAndGet(-frame.length);
            throw new TtrpcException(Code.RESOURCE_EXHAUSTED,
                    "write queue full: the peer is not reading");
        }
        queue.add(frame);
    }

    /** Stops the writer after the frames already queued. */
    void close() {
        if (!closed) {
            closed = true;
            queue.add(STOP);
        }
    }

    private void run() {
        byte[] gather = new byte[GATHER_BYTES];
        int n = 0;
        try {
            byte[] f = queue.take();
            while (f != STOP) {
                queuedBytes.addAndGet(-f.length);
                if (f.length > GATHER_BYTES / 2 || (n == 0 && queue.isEmpty())) {
                    if (n > 0) {
                        out.write(gather, 0, n);
                        n = 0;
                    }
                    out.write(f); // big, or alone: no copy
                } else {
                    if (n + f.length > GATHER_BYTES) {
                        out.write(gather, 0, n);
                        n = 0;
                    }
                    System.arraycopy(f, 0, gather, n, f.length);
                    n += f.length;
                }
                f = queue.poll();
                if (f == null) {
                    if (n > 0) {
                        out.write(gather, 0, n);
                        n = 0;
                    }
                    out.flush();
                    f = queue.take();
                }
            }
            if (n > 0) {
                out.write(gather, 0, n);
            }
            out.flush();
        } catch (IOException e) {
            closed = true;
            onFailure.accept(e);
        } catch (InterruptedException e) {
            closed = true;
            onFailure.accept(new IOException("writer interrupted", e));
        } catch (Throwable t) {
            closed = true;
            Statuses.LOG.log(Level.SEVERE, name + ": writer failed", t);
            onFailure.accept(new IOException("writer failed", t));
        } finally {
            queue.clear();
        }
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }
}
