package dev.kava.shim.task;

import dev.kava.runtime.agent.AgentClient;
import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcException;

/** Turns failures into the ttrpc statuses containerd maps to its errdefs (NotFound, AlreadyExists, ...). */
final class Errors {
    private Errors() {}

    static TtrpcException map(Throwable e) {
        if (e instanceof TtrpcException t) return t;
        if (e instanceof AgentClient.AgentException a) {
            Code c = a.code() == null ? Code.UNKNOWN : a.code();
            return new TtrpcException(c, "guest agent: " + a.getMessage());
        }
        String msg = e.getMessage() != null ? e.getMessage() : e.toString();
        return new TtrpcException(Code.UNKNOWN, msg, e);
    }
}
