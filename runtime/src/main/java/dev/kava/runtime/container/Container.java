package dev.kava.runtime.container;

/**
 * A container in a sandbox. Its init process's stdio is reached through the read and write calls;
 * reads block until data arrives and return an empty array at end of stream.
 */
public interface Container {
    String id();

    void start();

    byte[] readStdout(int max);

    byte[] readStderr(int max);

    void writeStdin(byte[] data);

    void closeStdin();

    void resizeTty(int rows, int cols);

    /** Sends a signal to the init process (or, with {@code all}, to every process of the container). */
    void signal(int signal, boolean all);

    /** Blocks until the init process exits: its exit code, or 128 + the signal that killed it. */
    int waitExit();

    /** Removes the container from the sandbox (killing what still runs) and undoes its rootfs. */
    void remove();
}
