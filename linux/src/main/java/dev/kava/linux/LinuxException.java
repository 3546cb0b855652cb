package dev.kava.linux;

/** The one exception type of the {@code linux} module: a Linux facility failed or is missing. */
public class LinuxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LinuxException(String message) {
        super(message);
    }

    public LinuxException(String message, Throwable cause) {
        super(message, cause);
    }
}
