package dev.kava.cli.containerd;

/** containerd or {@code ctr} failed, did not start in time, or left something behind that could not be removed. */
public final class ContainerdException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ContainerdException(String message) {
        super(message);
    }

    public ContainerdException(String message, Throwable cause) {
        super(message, cause);
    }
}
