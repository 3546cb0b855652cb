package dev.kava.ttrpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.kava.ttrpc.wire.KeyValue;
import dev.kava.ttrpc.wire.Request;
import dev.kava.ttrpc.wire.Response;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;

/**
 * A ttrpc client on one connection; thread-safe, calls from any number of threads share it.
 *
 * <p>Threads: a reader and a writer, both from the factory given to the constructor (virtual
 * by default; pass a platform-thread factory when the stream blocks in a native call, e.g. an
 * FFM-backed vsock or serial fd). Callers never write to the stream themselves, so interrupting
 * a caller cannot close the connection.
 *
 * <p>Deadlines: a timeout is sent as {@code timeout_nano} and enforced here too: when it
 * passes, the call fails with {@link Code#DEADLINE_EXCEEDED} whatever the server does.
 *
 * <p>Cancellation: cancelling a {@link #callAsync} future, or interrupting a thread blocked in
 * {@link #call}, releases the caller at once ({@link Code#CANCELLED}). ttrpc has no cancel
 * frame, so nothing goes on the wire for a unary call: the server runs on until its own
 * deadline or answer, and the late response is dropped here. Cancelling a {@link ClientStream}
 * also closes the client's sending side (an empty data frame with {@code remote closed}).
 *
 * <p>Connection loss: EOF, a read or write error, or a protocol error from the server (an
 * unknown frame type, an oversized or truncated frame, an envelope that does not parse, a
 * frame for a stream no call is waiting on) closes the connection and fails every pending call
 * at once with {@link Code#UNAVAILABLE}; later calls fail the same way. A stream that cannot
 * signal connection boundaries (a serial port) is no different: EOF there is connection loss,
 * and a client cannot reconnect on it without a new agent-side session.
 */
public final class TtrpcClient implements AutoCloseable {
    private static final ThreadFactory VIRTUAL = Thread.ofVirtual().name("ttrpc-client")
            .factory();
    private static final Executor CALLBACKS = r -> VIRTUAL.newThread(r).start();
    private static final long MAX_STREAM_ID = 0xFFFF_FFFFL;

    /** A call or stream waiting for frames from the server. */
    interface Inbound {
        /** Delivers a frame; true when it was the stream's last. Runs on the reader thread. */
        boolean onFrame(Frame f) throws ProtocolException;

        void fail(TtrpcException e);
    }

    private final ByteStream stream;
    private final String name;
    private final FrameReader reader;
    private final FrameWriter writer;
    private final Map<Integer, Inbound> pending = new ConcurrentHashMap<>();
    /** Streams given up locally (deadline, cancel) whose frames may still arrive. */
    private final Set<Integer> abandoned = ConcurrentHashMap.newKeySet();
    private final ReentrantLock openLock = new ReentrantLock();
    private final AtomicReference<TtrpcException> closedCause = new AtomicReference<>();
    private long nextId = 1;

    /** A client whose reader and writer are virtual threads. */
    public TtrpcClient(ByteStream stream) {
        this(stream, VIRTUAL);
    }

    /** A client whose reader and writer threads come from {@code readerThread}. */
    public TtrpcClient(ByteStream stream, ThreadFactory readerThread) {
        this.stream = Objects.requireNonNull(stream, "stream");
        this.name = "ttrpc client " + stream;
        this.reader = new FrameReader(stream.input());
        this.writer = new FrameWriter(stream.output(), readerThread, name, this::writeFailed);
        Thread t = readerThread.newThread(this::readLoop);
        if (t == null) {
            writer.close();
            throw new IllegalStateException("thread factory refused the reader thread");
        }
        t.start();
    }

    /** Calls a unary method and waits for its answer. A null or non-positive timeout: none. */
    public <R extends MessageLite> R call(String service, String method, MessageLite request,
            Parser<R> responseParser, Duration timeout) throws TtrpcException {
        return call(service, method, request, responseParser, timeout, Map.of());
    }

    /** As {@link #call(String, String, MessageLite, Parser, Duration)}, with request metadata. */
    public <R extends MessageLite> R call(String service, String method, MessageLite request,
            Parser<R> responseParser, Duration timeout, Map<String, List<String>> metadata)
            throws TtrpcException {
        UnaryCall c = start(service, method, request, timeout, metadata);
        Response response;
        try {
            response = c.future.get();
        } catch (InterruptedException e) {
            c.future.cancel(false);
            Thread.currentThread().interrupt();
            throw new TtrpcException(Code.CANCELLED, "interrupted calling " + service + "/"
                    + method, e);
        } catch (ExecutionException e) {
            throw rethrow(e.getCause());
        } catch (CancellationException e) {
            throw new TtrpcException(Code.CANCELLED, "call cancelled", e);
        }
        return decode(response, responseParser);
    }

    /**
     * Calls a unary method without waiting. The future fails with a {@link TtrpcException}
     * (wrapped as usual in ExecutionException / CompletionException); cancelling it releases
     * the call. It completes on a virtual thread, never on the connection's reader.
     */
    public <R extends MessageLite> CompletableFuture<R> callAsync(String service, String method,
            MessageLite request, Parser<R> responseParser, Duration timeout) {
        return callAsync(service, method, request, responseParser, timeout, Map.of());
    }

    /** As {@link #callAsync(String, String, MessageLite, Parser, Duration)}, with metadata. */
    public <R extends MessageLite> CompletableFuture<R> callAsync(String service, String method,
            MessageLite request, Parser<R> responseParser, Duration timeout,
            Map<String, List<String>> metadata) {
        UnaryCall c;
        try {
            c = start(service, method, request, timeout, metadata);
        } catch (TtrpcException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<R> result = c.future.thenApplyAsync(response -> {
            try {
                return decode(response, responseParser);
            } catch (TtrpcException e) {
                throw new CompletionException(e);
            }
        }, CALLBACKS);
        result.whenComplete((r, e) -> {
            if (e instanceof CancellationException) {
                c.future.cancel(false);
            }
        });
        return result;
    }

    /**
     * Opens a stream on which the client sends messages ({@link ClientStream#send}, then
     * {@link ClientStream#closeSend}) and receives the server's: a client-streaming or
     * bidirectional method. The request goes out with the {@code remote open} flag and no
     * payload. The timeout (null or non-positive: none) covers the whole stream.
     */
    public <R extends MessageLite> ClientStream<R> newStream(String service, String method,
            Parser<R> responseParser, Duration timeout) throws TtrpcException {
        return newStream(service, method, responseParser, timeout, Map.of());
    }

    /** As {@link #newStream(String, String, Parser, Duration)}, with request metadata. */
    public <R extends MessageLite> ClientStream<R> newStream(String service, String method,
            Parser<R> responseParser, Duration timeout, Map<String, List<String>> metadata)
            throws TtrpcException {
        return openStream(service, method, ByteString.EMPTY, Frame.FLAG_REMOTE_OPEN,
                responseParser, timeout, metadata);
    }

    /**
     * Opens a server-streaming call: one request (sent with the {@code remote closed} flag),
     * then the server's messages, read with {@link ClientStream#receive()} until it returns
     * null.
     */
    public <R extends MessageLite> ClientStream<R> newServerStream(String service, String method,
            MessageLite request, Parser<R> responseParser, Duration timeout) throws TtrpcException {
        return newServerStream(service, method, request, responseParser, timeout, Map.of());
    }

    /** As {@link #newServerStream(String, String, MessageLite, Parser, Duration)}, with metadata. */
    public <R extends MessageLite> ClientStream<R> newServerStream(String service, String method,
            MessageLite request, Parser<R> responseParser, Duration timeout,
            Map<String, List<String>> metadata) throws TtrpcException {
        return openStream(service, method, request.toByteString(), Frame.FLAG_REMOTE_CLOSED,
                responseParser, timeout, metadata);
    }

    private <R extends MessageLite> ClientStream<R> openStream(String service, String method,
            ByteString payload, byte flags, Parser<R> parser, Duration timeout,
            Map<String, List<String>> metadata) throws TtrpcException {
        Objects.requireNonNull(parser, "responseParser");
        byte[] envelope = envelope(service, method, payload, timeout, metadata);
        openLock.lock();
        try {
            int id = allocateId();
            ClientStream<R> s = new ClientStream<>(this, id, parser,
                    flags == Frame.FLAG_REMOTE_CLOSED);
            register(id, s.inbound);
            try {
                writer.send(id, Frame.TYPE_REQUEST, flags, envelope);
            } catch (TtrpcException e) {
                pending.remove(id, s.inbound);
                throw e;
            }
            if (timeout != null && timeout.isPositive()) {
                s.setTimer(Deadlines.after(timeout, () -> s.failLocally(new TtrpcException(
                        Code.DEADLINE_EXCEEDED, "deadline of " + timeout + " exceeded on stream "
                        + service + "/" + method))));
            }
            return s;
        } finally {
            openLock.unlock();
        }
    }

    private UnaryCall start(String service, String method, MessageLite request, Duration timeout,
            Map<String, List<String>> metadata) throws TtrpcException {
        byte[] envelope = envelope(service, method, request.toByteString(), timeout, metadata);
        UnaryCall c;
        openLock.lock();
        try {
            int id = allocateId();
            c = new UnaryCall(id);
            register(id, c);
            try {
                writer.send(id, Frame.TYPE_REQUEST, (byte) 0, envelope);
            } catch (TtrpcException e) {
                pending.remove(id, c);
                throw e;
            }
        } finally {
            openLock.unlock();
        }
        c.future.whenComplete((r, e) -> {
            ScheduledFuture<?> t = c.timer;
            if (t != null) {
                t.cancel(false);
            }
            if (e != null) {
                abandon(c.id, c);
            }
        });
        if (timeout != null && timeout.isPositive() && !c.future.isDone()) {
            c.timer = Deadlines.after(timeout, () -> c.future.completeExceptionally(
                    new TtrpcException(Code.DEADLINE_EXCEEDED, "deadline of " + timeout
                            + " exceeded calling " + service + "/" + method)));
            if (c.future.isDone()) {
                c.timer.cancel(false);
            }
        }
        return c;
    }

    private static byte[] envelope(String service, String method, ByteString payload,
            Duration timeout, Map<String, List<String>> metadata) throws TtrpcException {
        if (payload.size() > Frame.MAX_DATA_LENGTH) {
            throw Statuses.tooLarge("request", payload.size());
        }
        Request.Builder b = Request.newBuilder().setService(service).setMethod(method)
                .setPayload(payload);
        if (timeout != null && timeout.isPositive()) {
            b.setTimeoutNano(Deadlines.toNanos(timeout));
        }
        if (metadata != null) {
            metadata.forEach((k, values) -> values.forEach(v -> b.addMetadata(
                    KeyValue.newBuilder().setKey(k).setValue(v))));
        }
        Request r = b.build();
        int size = r.getSerializedSize();
        if (size > Frame.MAX_DATA_LENGTH) {
            throw Statuses.tooLarge("request", size);
        }
        return r.toByteArray();
    }

    /** Under openLock: ids go out in the order they are allocated, as the server demands. */
    private int allocateId() throws TtrpcException {
        if (nextId > MAX_STREAM_ID) {
            throw Statuses.unavailable("stream ids exhausted on this connection", null);
        }
        int id = (int) nextId;
        nextId += 2;
        return id;
    }

    private void register(int id, Inbound in) throws TtrpcException {
        pending.put(id, in);
        TtrpcException cause = closedCause.get();
        if (cause != null) {
            // The reader may have drained `pending` before this put: fail here instead.
            pending.remove(id, in);
            throw closed(cause);
        }
    }

    /** Gives up a call locally; frames still arriving for it are dropped. */
    void abandon(int id, Inbound in) {
        abandoned.add(id);
        if (!pending.remove(id, in)) {
            abandoned.remove(id); // its last frame arrived first
        }
    }

    void send(int id, byte type, byte flags, byte[] data) throws TtrpcException {
        TtrpcException cause = closedCause.get();
        if (cause != null) {
            throw closed(cause);
        }
        writer.send(id, type, flags, data);
    }

    private static <R extends MessageLite> R decode(Response response, Parser<R> parser)
            throws TtrpcException {
        if (response.getStatus().getCode() != Code.OK.value()) {
            throw Statuses.toException(response.getStatus());
        }
        try {
            return parser.parseFrom(response.getPayload());
        } catch (InvalidProtocolBufferException e) {
            throw new TtrpcException(Code.INTERNAL, "cannot parse response: " + e.getMessage(),
                    e);
        }
    }

    private static TtrpcException rethrow(Throwable t) {
        if (t instanceof TtrpcException e) {
            // A fresh exception, so the stack trace shows this caller.
            return new TtrpcException(e.code(), e.statusMessage(), e.details(), e);
        }
        return new TtrpcException(Code.INTERNAL, String.valueOf(t), t);
    }

    private static TtrpcException closed(TtrpcException cause) {
        return new TtrpcException(Code.UNAVAILABLE, cause.statusMessage(), cause);
    }

    private void readLoop() {
        String reason = "connection closed by the server (EOF)";
        Throwable cause = null;
        try {
            Frame f;
            while ((f = reader.read()) != null) {
                dispatch(f);
            }
        } catch (ProtocolException e) {
            if (closedCause.get() == null) {
                Statuses.LOG.log(Level.WARNING, name + ": closing: " + e.getMessage());
            }
            reason = "protocol error: " + e.getMessage();
            cause = e;
        } catch (IOException e) {
            reason = "connection failed: " + e;
            cause = e;
        } catch (Throwable t) {
            Statuses.LOG.log(Level.SEVERE, name + ": reader failed", t);
            reason = "reader failed: " + t;
            cause = t;
        } finally {
            shutdown(reason, cause);
        }
    }

    private void dispatch(Frame f) throws ProtocolException {
        if (f.type() == Frame.TYPE_REQUEST) {
            throw new ProtocolException(f + ": a server sends no requests");
        }
        int id = f.streamId();
        Inbound in = pending.get(id);
        if (in == null) {
            boolean last = f.type() == Frame.TYPE_RESPONSE || f.has(Frame.FLAG_REMOTE_CLOSED);
            if (last ? abandoned.remove(id) : abandoned.contains(id)) {
                return; // the answer to a call given up locally
            }
            throw new ProtocolException(f + ": no call is waiting on this stream");
        }
        if (in.onFrame(f) && !pending.remove(id, in)) {
            abandoned.remove(id);
        }
    }

    private void writeFailed(IOException e) {
        shutdown("write failed: " + e, e);
    }

    private void shutdown(String reason, Throwable cause) {
        TtrpcException e = new TtrpcException(Code.UNAVAILABLE, reason, cause);
        if (!closedCause.compareAndSet(null, e)) {
            return;
        }
        writer.close();
        try {
            stream.close();
        } catch (IOException | RuntimeException ex) {
            Statuses.LOG.log(Level.FINE, name + ": close failed", ex);
        }
        for (Map.Entry<Integer, Inbound> entry : pending.entrySet()) {
            if (pending.remove(entry.getKey(), entry.getValue())) {
                entry.getValue().fail(closed(e));
            }
        }
        abandoned.clear();
    }

    /** True until the connection is closed or lost. */
    public boolean isOpen() {
        return closedCause.get() == null;
    }

    /** Closes the connection; pending calls fail with {@link Code#UNAVAILABLE}. */
    @Override
    public void close() {
        shutdown("client closed", null);
    }

    @Override
    public String toString() {
        return name + (isOpen() ? "" : " (closed)");
    }

    /** A unary call waiting for its response frame. */
    private static final class UnaryCall implements Inbound {
        final int id;
        final CompletableFuture<Response> future = new CompletableFuture<>();
        volatile ScheduledFuture<?> timer;

        UnaryCall(int id) {
            this.id = id;
        }

        @Override
        public boolean onFrame(Frame f) throws ProtocolException {
            if (f.type() != Frame.TYPE_RESPONSE) {
                throw new ProtocolException(f + ": a unary call is answered by a response");
            }
            try {
                future.complete(f.parse(Response.parser()));
            } catch (InvalidProtocolBufferException e) {
                throw new ProtocolException(f + ": response does not parse: " + e.getMessage(),
                        e);
            }
            return true;
        }

        @Override
        public void fail(TtrpcException e) {
            future.completeExceptionally(e);
        }
    }
}
