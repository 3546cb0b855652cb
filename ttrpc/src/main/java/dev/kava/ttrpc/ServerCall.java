package dev.kava.ttrpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.kava.ttrpc.wire.Response;
import dev.kava.ttrpc.wire.Status;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One request being served: runs its handler on a virtual thread and sends exactly one end of
 * stream, whichever comes first of the handler's answer, the deadline, or the connection's end.
 */
final class ServerCall implements Runnable {

    /** What a method is registered as. */
    sealed interface Route permits UnaryRoute, StreamRoute {}

    record UnaryRoute<Q extends MessageLite, R extends MessageLite>(Parser<Q> parser,
            UnaryHandler<Q, R> handler) implements Route {}

    record StreamRoute<Q extends MessageLite, R extends MessageLite>(Parser<Q> parser,
            StreamHandler<Q, R> handler) implements Route {}

    private final ServerConnection conn;
    private final int id;
    private final Route route;
    private final CallContext ctx;
    private final ByteString requestPayload;
    private final Inbox inbox;
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile ScheduledFuture<?> deadlineTask;

    ServerCall(ServerConnection conn, int id, Route route, CallContext ctx, ByteString payload,
            byte requestFlags) {
        this.conn = conn;
        this.id = id;
        this.route = route;
        this.ctx = ctx;
        this.requestPayload = payload;
        if (route instanceof StreamRoute<?, ?>) {
            inbox = new Inbox();
            boolean clientStreams = (requestFlags & Frame.FLAG_REMOTE_OPEN) != 0;
            if (!clientStreams || !payload.isEmpty()) {
                inbox.offer(payload.toByteArray());
            }
            if (!clientStreams) {
                inbox.finish(Inbox.END);
            }
        } else {
            inbox = null;
        }
    }

    int id() {
        return id;
    }

    CallContext context() {
        return ctx;
    }

    void setDeadlineTask(ScheduledFuture<?> task) {
        this.deadlineTask = task;
        if (finished.get()) {
            task.cancel(false);
        }
    }

    @Override
    public void run() {
        try {
            MessageLite result = switch (route) {
                case UnaryRoute<?, ?> u -> runUnary(u);
                case StreamRoute<?, ?> s -> runStream(s);
            };
            if (result == null && route instanceof UnaryRoute<?, ?>) {
                finish(Statuses.of(Code.INTERNAL, "handler of " + ctx.service() + "/"
                        + ctx.method() + " returned null"), ByteString.EMPTY);
            } else if (result == null) {
                finishStreamClosed();
            } else {
                ByteString bytes = result.toByteString();
                if (bytes.size() > Frame.MAX_DATA_LENGTH - 64) {
                    finish(Statuses.of(Code.RESOURCE_EXHAUSTED, "response of " + bytes.size()
                            + " bytes exceeds the maximum message size of "
                            + Frame.MAX_DATA_LENGTH), ByteString.EMPTY);
                } else {
                    finish(Statuses.OK, bytes);
                }
            }
        } catch (Throwable t) {
            finish(Statuses.ofHandlerFailure(t, ctx.service(), ctx.method()), ByteString.EMPTY);
        }
    }

    private <Q extends MessageLite, R extends MessageLite> R runUnary(UnaryRoute<Q, R> u)
            throws Exception {
        Q request;
        try {
            request = u.parser().parseFrom(requestPayload);
        } catch (InvalidProtocolBufferException e) {
            throw new TtrpcException(Code.INVALID_ARGUMENT,
                    "cannot parse request: " + e.getMessage(), e);
        }
        return u.handler().handle(request, ctx);
    }

    private <Q extends MessageLite, R extends MessageLite> R runStream(StreamRoute<Q, R> s)
            throws Exception {
        return s.handler().handle(new ServerStream<>(this, s.parser(), inbox), ctx);
    }

    /** A data frame from the client for this call (reader thread). */
    void onData(Frame f) {
        if (inbox == null) {
            return; // a unary method: the request said it all
        }
        if (!f.has(Frame.FLAG_NO_DATA)) {
            if (!inbox.offer(f.data())) {
                TtrpcException e = new TtrpcException(Code.RESOURCE_EXHAUSTED,
                        "client sent more than " + Inbox.MAX_BYTES + " unreceived bytes");
                inbox.finish(e);
                finish(Statuses.of(e.code(), e.statusMessage()), ByteString.EMPTY);
                return;
            }
        }
        if (f.has(Frame.FLAG_REMOTE_CLOSED)) {
            inbox.finish(Inbox.END);
        }
    }

    void sendData(byte[] message) throws TtrpcException {
        if (finished.get()) {
            throw new TtrpcException(Code.CANCELLED, ctx.isCancelled()
                    ? "call cancelled" : "stream already finished");
        }
        conn.send(id, Frame.TYPE_DATA, (byte) 0, message);
    }

    /** The deadline passed: answer DEADLINE_EXCEEDED now; the handler's answer is dropped. */
    void onDeadline() {
        if (finish(Statuses.of(Code.DEADLINE_EXCEEDED, "deadline exceeded"), ByteString.EMPTY)) {
            cancel();
        }
    }

    /** The connection closed: nothing can be sent any more. */
    void onConnectionClosed() {
        if (finished.compareAndSet(false, true)) {
            cancelDeadline();
            cancel();
        }
    }

    private void cancel() {
        ctx.cancel();
        if (inbox != null) {
            inbox.finish(new TtrpcException(Code.CANCELLED, "call cancelled"));
        }
    }

    private boolean finish(Status status, ByteString payload) {
        if (!finished.compareAndSet(false, true)) {
            return false;
        }
        cancelDeadline();
        conn.callFinished(this);
        byte[] response = Response.newBuilder().setStatus(status).setPayload(payload).build()
                .toByteArray();
        conn.sendQuietly(id, Frame.TYPE_RESPONSE, (byte) 0, response);
        return true;
    }

    private void finishStreamClosed() {
        if (finished.compareAndSet(false, true)) {
            cancelDeadline();
            conn.callFinished(this);
            conn.sendQuietly(id, Frame.TYPE_DATA,
                    (byte) (Frame.FLAG_REMOTE_CLOSED | Frame.FLAG_NO_DATA), new byte[0]);
        }
    }

    private void cancelDeadline() {
        ScheduledFuture<?> t = deadlineTask;
        if (t != null) {
            t.cancel(false);
        }
    }
}
