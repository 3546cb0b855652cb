package dev.kava.ttrpc;

import com.google.protobuf.MessageLite;

/**
 * Serves one unary method: one request in, one response out. Runs on a virtual thread of its
 * own. Throw {@link TtrpcException} to answer with a chosen status; any other exception is
 * answered with {@link Code#UNKNOWN} and its message. The thread is not interrupted when the
 * call's deadline passes or its connection closes: see {@link CallContext#isCancelled()} and
 * {@link CallContext#onCancel}.
 */
@FunctionalInterface
public interface UnaryHandler<Q extends MessageLite, R extends MessageLite> {
    R handle(Q request, CallContext ctx) throws Exception;
}
