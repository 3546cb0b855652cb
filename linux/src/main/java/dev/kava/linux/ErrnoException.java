package dev.kava.linux;

/**
 * A system call failed with an errno. The message reads like
 * {@code open(/x): No such file or directory (ENOENT)}.
 */
public final class ErrnoException extends LinuxException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    /**
     * @param call  the call and its most useful argument, e.g. {@code "open(/x)"}
     * @param errno the errno the call returned
     */
    public ErrnoException(String call, int errno) {
        super(call + ": " + Errno.describe(errno) + " (" + Errno.name(errno) + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The errno value, e.g. {@link Errno#ENOENT}. */
    public int errno() {
        return errno;
    }

    /** The symbolic errno name, e.g. {@code "ENOENT"}. */
    public String errnoName() {
        return Errno.name(errno);
    }

    /** The failed call as given to the constructor, e.g. {@code "open(/x)"}. */
    public String call() {
        return call;
    }
}
