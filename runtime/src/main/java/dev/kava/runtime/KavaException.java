package dev.kava.runtime;

/**
 * The runtime module's exception: a failure with a message meant for the operator, e.g.
 * "the VM did not boot within 30 s: ... (console log: /run/kava/ID/console.log)".
 */
public class KavaException extends RuntimeException {
    public KavaException(String message) {
        super(message);
    }

    public KavaException(String message, Throwable cause) {
        super(message, cause);
    }
}
