package dev.kava.ttrpc;

import com.google.protobuf.Any;
import java.io.IOException;
import java.util.List;
import java.util.Objects;

/**
 * The module's one exception: a call that ended with a status other than {@link Code#OK}.
 *
 * <p>Clients receive it for remote statuses and for local failures ({@link Code#UNAVAILABLE}
 * when the connection is gone, {@link Code#DEADLINE_EXCEEDED} on timeout, {@link
 * Code#CANCELLED} on cancel or interrupt, {@link Code#RESOURCE_EXHAUSTED} for a message over 4
 * MiB). Handlers throw it to answer with a status of their choosing; any other exception a
 * handler throws becomes {@link Code#UNKNOWN} with the exception's message.
 */
public class TtrpcException extends IOException {
    private static final long serialVersionUID = 1L;

    private final Code code;
    private final transient List<Any> details;

    public TtrpcException(Code code, String message) {
        this(code, message, List.of(), null);
    }

    public TtrpcException(Code code, String message, Throwable cause) {
        this(code, message, List.of(), cause);
    }

    /** A status with details ({@code google.rpc.Status.details}), sent as they are. */
    public TtrpcException(Code code, String message, List<Any> details, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code, "code");
        this.details = List.copyOf(details);
    }

    public Code code() {
        return code;
    }

    /** The status message without the code prefix that {@link #toString()} adds. */
    public String statusMessage() {
        String m = getMessage();
        return m == null ? "" : m;
    }

    public List<Any> details() {
        return details == null ? List.of() : details;
    }

    @Override
    public String toString() {
        return "TtrpcException: " + code + ": " + statusMessage();
    }
}
