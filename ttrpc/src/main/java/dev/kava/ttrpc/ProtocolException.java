package dev.kava.ttrpc;

import java.io.IOException;

/**
 * A peer broke the protocol (bad frame type, oversized or truncated frame, unparseable
 * envelope, unknown stream): the connection is closed. Internal: callers see {@link
 * TtrpcException} with {@link Code#UNAVAILABLE}.
 */
final class ProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    ProtocolException(String message) {
        super(message);
    }

    ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
