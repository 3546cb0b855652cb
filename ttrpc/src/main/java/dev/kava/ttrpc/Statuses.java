package dev.kava.ttrpc;

import dev.kava.ttrpc.wire.Status;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Conversions between exceptions and the {@code google.rpc.Status} on the wire. */
final class Statuses {
    static final Logger LOG = Logger.getLogger("dev.kava.ttrpc");

    static final Status OK = Status.newBuilder().setCode(Code.OK.value()).build();

    private Statuses() {}

    static Status of(Code code, String message) {
        return Status.newBuilder().setCode(code.value()).setMessage(message).build();
    }

    /** The status a handler's exception answers with. */
    static Status ofHandlerFailure(Throwable t, String service, String method) {
        if (t instanceof TtrpcException e) {
            return Status.newBuilder().setCode(e.code().value()).setMessage(e.statusMessage())
                    .addAllDetails(e.details()).build();
        }
        if (t instanceof InterruptedException) {
            return of(Code.CANCELLED, "call cancelled");
        }
        if (LOG.isLoggable(Level.FINE)) {
            LOG.log(Level.FINE, "handler of " + service + "/" + method + " failed", t);
        }
        String message = t.getMessage();
        return of(Code.UNKNOWN, message != null ? message : t.getClass().getName());
    }

    static TtrpcException toException(Status status) {
        return new TtrpcException(Code.of(status.getCode()), status.getMessage(),
                status.getDetailsList(), null);
    }

    static TtrpcException unavailable(String why, Throwable cause) {
        return new TtrpcException(Code.UNAVAILABLE, why, cause);
    }

    static TtrpcException tooLarge(String what, int size) {
        return new TtrpcException(Code.RESOURCE_EXHAUSTED, what + " of " + size
                + " bytes exceeds the maximum message size of " + Frame.MAX_DATA_LENGTH);
    }
}
