package dev.kava.ttrpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.kava.ttrpc.wire.Response;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The client's end of a streaming call, from {@link TtrpcClient#newStream} or {@link
 * TtrpcClient#newServerStream}. One thread may send while another receives.
 *
 * <p>The server ends the stream with a data frame flagged {@code remote closed} ({@link
 * #receive()} returns null), or with a response: its payload is received as the last message
 * when the status is OK, otherwise {@link #receive()} throws the status.
 */
public final class ClientStream<R extends MessageLite> implements AutoCloseable {
    private final TtrpcClient client;
    private final int id;
    private final Parser<R> parser;
    private final Inbox inbox = new Inbox();
    private final AtomicBoolean sendClosed;
    private final AtomicBoolean done = new AtomicBoolean();
    private volatile TtrpcException failure;
    private volatile ScheduledFuture<?> timer;
    private Object terminal; // the receiving thread's
    /** What the connection's reader delivers to. */
    final TtrpcClient.Inbound inbound = new TtrpcClient.Inbound() {
        @Override
        public boolean onFrame(Frame f) throws ProtocolException {
            return deliver(f);
        }

        @Override
        public void fail(TtrpcException e) {
            failRemote(e);
        }
    };

    ClientStream(TtrpcClient client, int id, Parser<R> parser, boolean sendClosed) {
        this.client = client;
        this.id = id;
        this.parser = parser;
        this.sendClosed = new AtomicBoolean(sendClosed);
    }

    /**
     * Sends one message (a data frame).
     *
     * @throws IllegalStateException after {@link #closeSend()}
     * @throws TtrpcException RESOURCE_EXHAUSTED for a message over 4 MiB (the stream goes on);
     *     the stream's failure once it failed (deadline, cancel, connection lost)
     */
    public void send(MessageLite message) throws TtrpcException {
        throwIfFailed();
        if (sendClosed.get()) {
            throw new IllegalStateException("send after closeSend");
        }
        client.send(id, Frame.TYPE_DATA, (byte) 0, message.toByteArray());
    }

    /** Tells the server the client sends no more (idempotent). */
    public void closeSend() throws TtrpcException {
        if (!sendClosed.get()) {
            throwIfFailed();
            sendClose();
        }
    }

    private void sendClose() throws TtrpcException {
        if (sendClosed.compareAndSet(false, true)) {
            client.send(id, Frame.TYPE_DATA,
                    (byte) (Frame.FLAG_REMOTE_CLOSED | Frame.FLAG_NO_DATA), new byte[0]);
        }
    }

    /**
     * The server's next message, waiting for it; null once the server ended the stream.
     * Interrupting the waiting thread cancels the stream.
     *
     * @throws TtrpcException the server's status, DEADLINE_EXCEEDED, CANCELLED, UNAVAILABLE
     *     (connection lost), RESOURCE_EXHAUSTED (the server sent more than {@value
     *     Inbox#MAX_BYTES} unreceived bytes)
     */
    public R receive() throws TtrpcException {
        if (terminal == null) {
            Object item;
            try {
                item = inbox.take();
            } catch (InterruptedException e) {
                cancel();
                Thread.currentThread().interrupt();
                throw new TtrpcException(Code.CANCELLED, "interrupted", e);
            }
            if (item instanceof byte[] bytes) {
                try {
                    return parser.parseFrom(bytes);
                } catch (InvalidProtocolBufferException e) {
                    throw new TtrpcException(Code.INTERNAL,
                            "cannot parse stream message: " + e.getMessage(), e);
                }
            }
            terminal = item;
        }
        if (terminal instanceof TtrpcException e) {
            throw new TtrpcException(e.code(), e.statusMessage(), e.details(), e);
        }
        return null;
    }

    /**
     * Gives up the stream: {@link #receive()} throws CANCELLED, later frames from the server
     * are dropped, and unless already done the client's side is closed on the wire (ttrpc has
     * no cancel frame).
     */
    public void cancel() {
        failLocally(new TtrpcException(Code.CANCELLED, "stream cancelled"));
    }

    /** True once the server ended the stream or it failed. */
    public boolean isDone() {
        return done.get();
    }

    /** Cancels the stream unless it is done. */
    @Override
    public void close() {
        cancel();
    }

    void setTimer(ScheduledFuture<?> t) {
        timer = t;
        if (done.get()) {
            t.cancel(false);
        }
    }

    /** Fails the stream from this side (deadline, cancel, overflow); false if already done. */
    boolean failLocally(TtrpcException e) {
        if (!done.compareAndSet(false, true)) {
            return false;
        }
        stopTimer();
        failure = e;
        inbox.finish(e);
        client.abandon(id, inbound);
        try {
            sendClose(); // the server's receive() ends; ttrpc has no cancel frame
        } catch (TtrpcException ignored) {
            // the connection is gone: nothing to tell the server
        }
        return true;
    }

    private void throwIfFailed() throws TtrpcException {
        TtrpcException e = failure;
        if (e != null) {
            throw new TtrpcException(e.code(), e.statusMessage(), e.details(), e);
        }
    }

    private void stopTimer() {
        ScheduledFuture<?> t = timer;
        if (t != null) {
            t.cancel(false);
        }
    }

    private boolean deliver(Frame f) throws ProtocolException {
        if (f.type() == Frame.TYPE_RESPONSE) {
            Response r;
            try {
                r = f.parse(Response.parser());
            } catch (InvalidProtocolBufferException e) {
                throw new ProtocolException(f + ": response does not parse: " + e.getMessage(),
                        e);
            }
            if (done.compareAndSet(false, true)) {
                stopTimer();
                if (r.getStatus().getCode() == Code.OK.value()) {
                    inbox.put(r.getPayload().toByteArray());
                    inbox.finish(Inbox.END);
                } else {
                    TtrpcException e = Statuses.toException(r.getStatus());
                    failure = e;
                    inbox.finish(e);
                }
            }
            return true;
        }
        boolean last = f.has(Frame.FLAG_REMOTE_CLOSED);
        if (done.get()) {
            return last;
        }
        if (!f.has(Frame.FLAG_NO_DATA) && !inbox.offer(f.data())) {
            failLocally(new TtrpcException(Code.RESOURCE_EXHAUSTED, "server sent more than "
                    + Inbox.MAX_BYTES + " unreceived bytes"));
            return false;
        }
        if (last && done.compareAndSet(false, true)) {
            stopTimer();
            inbox.finish(Inbox.END);
        }
        return last;
    }

    private void failRemote(TtrpcException e) {
        if (done.compareAndSet(false, true)) {
            stopTimer();
            failure = e;
            inbox.finish(e);
        }
    }
}
