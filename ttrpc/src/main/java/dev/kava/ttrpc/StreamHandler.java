package dev.kava.ttrpc;

import com.google.protobuf.MessageLite;

/**
 * Serves one streaming method (client-streaming, server-streaming or both). Runs on a virtual
 * thread of its own; reads the client's messages with {@link ServerStream#receive()} and sends
 * messages with {@link ServerStream#send}.
 *
 * <p>What the handler returns ends the stream: a message is sent as the final response (the
 * shape of a client-streaming call); {@code null} ends the stream with an empty data frame that
 * carries the {@code remote closed} flag (the shape of a server-streaming call, as containerd's
 * ttrpc does it). Exceptions map to a status as for {@link UnaryHandler}.
 */
@FunctionalInterface
public interface StreamHandler<Q extends MessageLite, R extends MessageLite> {
    R handle(ServerStream<Q, R> stream, CallContext ctx) throws Exception;
}
