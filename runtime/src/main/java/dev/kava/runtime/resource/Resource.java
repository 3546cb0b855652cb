package dev.kava.runtime.resource;

/**
 * Something a sandbox sets up on the host and must undo: a shared directory, a container's rootfs
 * mount. Set-up records what it did in the sandbox's persisted state first, so a crashed kava can be
 * cleaned up by {@code kava cleanup}; {@link #close()} undoes it and is idempotent.
 */
public interface Resource extends AutoCloseable {
    /** A short description for logs and errors, e.g. "rootfs of c1 (overlay)". */
    String describe();

    @Override
    void close();
}
