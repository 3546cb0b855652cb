package dev.kava.linux;

/**
 * What {@code waitpid(2)} reported for one child: its pid and the raw status word, decoded like the
 * {@code WIFEXITED}/{@code WEXITSTATUS}/{@code WIFSIGNALED}/{@code WTERMSIG} macros.
 */
public record WaitStatus(int pid, int raw) {
    /** {@code WIFEXITED}: the child called exit. */
    public boolean exited() {
        return (raw & 0x7f) == 0;
    }

    /** {@code WEXITSTATUS}: the exit code; meaningful when {@link #exited()}. */
    public int exitCode() {
        return (raw >> 8) & 0xff;
    }

    /** {@code WIFSIGNALED}: a signal killed the child. */
    public boolean signaled() {
        return ((byte) ((raw & 0x7f) + 1) >> 1) > 0;
    }

    /** {@code WTERMSIG}: the signal that killed the child; meaningful when {@link #signaled()}. */
    public int termSignal() {
        return raw & 0x7f;
    }

    /** {@code WCOREDUMP}: the killed child dumped core. */
    public boolean coreDumped() {
        return signaled() && (raw & 0x80) != 0;
    }

    /** {@code WIFSTOPPED}: the child was stopped (only reported with WUNTRACED). */
    public boolean stopped() {
        return (raw & 0xff) == 0x7f;
    }

    /** {@code WSTOPSIG}: the signal that stopped the child; meaningful when {@link #stopped()}. */
    public int stopSignal() {
        return (raw >> 8) & 0xff;
    }

    /**
     * The status a shell would report: the exit code, or 128 + the signal number. Throws
     * {@link IllegalStateException} for a stopped or continued child, which has not ended.
     */
    public int toExitStatus() {
        if (exited()) {
            return exitCode();
        }
        if (signaled()) {
            return 128 + termSignal();
        }
        throw new IllegalStateException("process " + pid + " has not ended (status 0x" + Integer.toHexString(raw) + ")");
    }
}
