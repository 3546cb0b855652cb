package dev.kava.ttrpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;

/**
 * The server's end of a streaming call, given to a {@link StreamHandler}. Used by the handler's
 * thread only.
 *
 * <p>For a client-streaming call (request flag {@code remote open}) the messages are the
 * request's payload, when not empty, then each data frame. For a server-streaming call (flag
 * {@code remote closed}, or none) the one message is the request's payload.
 */
public final class ServerStream<Q extends MessageLite, R extends MessageLite> {
    private final ServerCall call;
    private final Parser<Q> parser;
    private final Inbox inbox;
    private Object terminal;

    ServerStream(ServerCall call, Parser<Q> parser, Inbox inbox) {
        this.call = call;
        this.parser = parser;
        this.inbox = inbox;
    }

    /**
     * The client's next message, waiting for it; null once the client closed its side.
     *
     * @throws TtrpcException CANCELLED when the call was cancelled (deadline, connection
     *     closed), INVALID_ARGUMENT for a message that does not parse, RESOURCE_EXHAUSTED when
     *     the client sent more than the stream buffers ({@value Inbox#MAX_BYTES} bytes)
     */
    public Q receive() throws TtrpcException, InterruptedException {
        if (terminal != null) {
            return end();
        }
        Object item = inbox.take();
        if (item instanceof byte[] bytes) {
            try {
                return parser.parseFrom(bytes);
            } catch (InvalidProtocolBufferException e) {
                throw new TtrpcException(Code.INVALID_ARGUMENT,
                        "cannot parse stream message: " + e.getMessage(), e);
            }
        }
        terminal = item;
        return end();
    }

    private Q end() throws TtrpcException {
        if (terminal instanceof TtrpcException e) {
            throw new TtrpcException(e.code(), e.statusMessage(), e);
        }
        return null;
    }

    /**
     * Sends one message to the client (a data frame).
     *
     * @throws TtrpcException RESOURCE_EXHAUSTED for a message over 4 MiB (the stream goes on),
     *     CANCELLED once the call is cancelled, UNAVAILABLE once the connection is closed
     */
    public void send(R message) throws TtrpcException {
        call.sendData(message.toByteArray());
    }

    /** The call's context, the same object the handler received. */
    public CallContext context() {
        return call.context();
    }
}
