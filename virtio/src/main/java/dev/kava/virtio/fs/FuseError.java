package dev.kava.virtio.fs;

/**
 * A request fails with an errno that goes back to the guest in {@code fuse_out_header.error}. It
 * is control flow for bad input, not a bug report: no stack trace is taken.
 */
final class FuseError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int errno;

    FuseError(int errno) {
        super(null, null, false, false);
        this.errno = errno;
    }

    int errno() {
        return errno;
    }

    @Override
    public String getMessage() {
        return "errno " + errno;
    }
}
