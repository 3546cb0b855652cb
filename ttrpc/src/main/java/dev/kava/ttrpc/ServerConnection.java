package dev.kava.ttrpc;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.kava.ttrpc.wire.KeyValue;
import dev.kava.ttrpc.wire.Request;
import dev.kava.ttrpc.wire.Response;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;

/**
 * One client connection of a {@link TtrpcServer}: a reader loop (on the thread that calls
 * {@link #run()}), a {@link FrameWriter} thread, and a virtual thread per request.
 *
 * <p>A peer that breaks the protocol (unknown frame type, oversized or truncated frame, an
 * envelope that does not parse, an even or non-increasing stream id, a response frame) gets
 * its connection closed; other connections are not affected.
 */
final class ServerConnection {
    private static final ThreadFactory HANDLERS = Thread.ofVirtual().name("ttrpc-handler")
            .factory();

    private final TtrpcServer server;
    private final ByteStream stream;
    private final FrameReader reader;
    private final FrameWriter writer;
    private final String name;
    private final Map<Integer, ServerCall> calls = new ConcurrentHashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private long lastStreamId;

    ServerConnection(TtrpcServer server, ByteStream stream, ThreadFactory writerThread) {
        this.server = server;
        this.stream = stream;
        this.name = "ttrpc server connection " + stream;
        this.reader = new FrameReader(stream.input());
        this.writer = new FrameWriter(stream.output(), writerThread, name, this::writeFailed);
    }

    /** Serves until EOF, an I/O error, a protocol error or {@link #close()}. */
    void run() {
        try {
            Frame f;
            while ((f = reader.read()) != null) {
                dispatch(f);
            }
        } catch (ProtocolException e) {
            if (!closed.get()) {
                Statuses.LOG.log(Level.WARNING, name + ": closing: " + e.getMessage());
            }
        } catch (IOException e) {
            if (!closed.get()) {
                Statuses.LOG.log(Level.FINE, name + ": read failed, closing", e);
            }
        } catch (Throwable t) {
            Statuses.LOG.log(Level.SEVERE, name + ": reader failed, closing", t);
        } finally {
            close();
        }
    }

    private void dispatch(Frame f) throws ProtocolException {
        if ((f.streamId() & 1) == 0) {
            throw new ProtocolException(f + ": stream ids of clients are odd");
        }
        switch (f.type()) {
            case Frame.TYPE_REQUEST -> onRequest(f);
            case Frame.TYPE_DATA -> {
                ServerCall call = calls.get(f.streamId());
                if (call != null) {
                    call.onData(f);
                } else if (f.unsignedId() > lastStreamId) {
                    throw new ProtocolException(f + ": data for a stream never opened");
                }
                // else: data for a call that already ended (deadline, error): dropped.
            }
            default -> throw new ProtocolException(f + ": a client sends no responses");
        }
    }

    private void onRequest(Frame f) throws ProtocolException {
        if (f.unsignedId() <= lastStreamId) {
            throw new ProtocolException(f + ": stream ids must increase (last "
                    + lastStreamId + ")");
        }
        lastStreamId = f.unsignedId();
        Request req;
        try {
            req = f.parse(Request.parser());
        } catch (InvalidProtocolBufferException e) {
            throw new ProtocolException(f + ": request does not parse: " + e.getMessage(), e);
        }
        ServerCall.Route route = server.route(req.getService(), req.getMethod());
        if (route == null) {
            String message = "service " + req.getService() + " method " + req.getMethod()
                    + " not found";
            sendQuietly(f.streamId(), Frame.TYPE_RESPONSE, (byte) 0, Response.newBuilder()
                    .setStatus(Statuses.of(Code.UNIMPLEMENTED, message)).build().toByteArray());
            return;
        }
        long timeout = req.getTimeoutNano();
        Instant deadline = timeout > 0 ? Instant.now().plusNanos(timeout) : null;
        CallContext ctx = new CallContext(req.getService(), req.getMethod(),
                metadata(req.getMetadataList()), deadline);
        ServerCall call = new ServerCall(this, f.streamId(), route, ctx,
                req.getPayload(), f.flags());
        calls.put(call.id(), call);
        if (closed.get()) {
            call.onConnectionClosed();
            return;
        }
        if (timeout > 0) {
            call.setDeadlineTask(Deadlines.after(Duration.ofNanos(timeout), call::onDeadline));
        }
        HANDLERS.newThread(call).start();
    }

    private static Map<String, List<String>> metadata(List<KeyValue> pairs) {
        if (pairs.isEmpty()) {
            return Map.of();
        }
        Map<String, List<String>> m = new LinkedHashMap<>();
        for (KeyValue kv : pairs) {
            m.computeIfAbsent(kv.getKey(), k -> new ArrayList<>(1)).add(kv.getValue());
        }
        m.replaceAll((k, v) -> List.copyOf(v));
        return Collections.unmodifiableMap(m);
    }

    void callFinished(ServerCall call) {
        calls.remove(call.id(), call);
    }

    void send(int id, byte type, byte flags, byte[] data) throws TtrpcException {
        writer.send(id, type, flags, data);
    }

    /** Sends a frame whose loss only matters to its call (the connection is going away). */
    void sendQuietly(int id, byte type, byte flags, byte[] data) {
        try {
            writer.send(id, type, flags, data);
        } catch (TtrpcException e) {
            Statuses.LOG.log(Level.FINE, name + ": dropped frame for stream "
                    + Integer.toUnsignedLong(id) + ": " + e.statusMessage());
        }
    }

    private void writeFailed(IOException e) {
        if (!closed.get()) {
            Statuses.LOG.log(Level.FINE, name + ": write failed, closing", e);
        }
        close();
    }

    /** Closes the byte stream, which ends {@link #run()}; cancels every call in progress. */
    void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        writer.close();
        try {
            stream.close();
        } catch (IOException | RuntimeException e) {
            Statuses.LOG.log(Level.FINE, name + ": close failed", e);
        }
        for (ServerCall call : calls.values()) {
            call.onConnectionClosed();
        }
        calls.clear();
        server.connectionClosed(this);
    }

    @Override
    public String toString() {
        return name;
    }
}
