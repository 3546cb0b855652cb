package dev.kava.virtio.fs;

/**
 * How much the guest may cache, as virtiofsd's {@code --cache}: it sets the entry and attribute
 * timeouts of every reply and the open flags of files and directories.
 */
public enum CacheMode {
    /** No caching: zero timeouts, every file opened with FOPEN_DIRECT_IO. Coherent with host changes. */
    NONE(0),
    /** One-second timeouts; page cache kept only while a file's mtime/size do not change (AUTO_INVAL_DATA). */
    AUTO(1),
    /**
     * Day-long timeouts, FOPEN_KEEP_CACHE for files and FOPEN_CACHE_DIR for directories: fastest,
     * for shares only the guest changes (a container's rootfs).
     */
    ALWAYS(86_400);

    private final long timeoutSeconds;

    CacheMode(long timeoutSeconds) {
        this.timeoutSeconds = timeoutSeconds;
    }

    /** Entry and attribute timeout, in seconds. */
    public long timeoutSeconds() {
        return timeoutSeconds;
    }

    /**
     * {@code fuse_open_out.open_flags} for a regular file. Every mode adds FOPEN_NOFLUSH: the
     * server's FLUSH does nothing (no locks, no write-back cache), so the guest need not send one on
     * every close (a round trip saved per close; older guests ignore the flag).
     */
    int fileOpenFlags() {
        return FuseKernel.FOPEN_NOFLUSH | switch (this) {
            case NONE -> FuseKernel.FOPEN_DIRECT_IO;
            case AUTO -> 0;
            case ALWAYS -> FuseKernel.FOPEN_KEEP_CACHE;
        };
    }

    /** {@code fuse_open_out.open_flags} for a directory. */
    int dirOpenFlags() {
        return this == ALWAYS ? FuseKernel.FOPEN_KEEP_CACHE | FuseKernel.FOPEN_CACHE_DIR : 0;
    }
}
