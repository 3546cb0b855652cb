package dev.kava.agent.stream;

import dev.kava.agent.AgentErrors;
import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A process's stdin: the agent's end of a pipe, or a dup of the pty master. Writes are
 * serialized and run on platform threads ({@link BlockingCalls}); close on a pipe closes it (the
 * process reads EOF), on a tty it sends the EOF character (^D) since closing the master would
 * hang up the terminal.
 */
public final class StdinSink {
    private static final byte[] EOT = {0x04};

    private final Fd fd;
    private final boolean tty;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile boolean closed;

    public StdinSink(Fd fd, boolean tty) {
        this.fd = fd;
        this.tty = tty;
    }

    /** Writes all of {@code data}; returns its length. */
    public int write(byte[] data) throws Exception {
        lock.lockInterruptibly();
        try {
            if (closed) {
                throw AgentErrors.precondition("stdin is closed");
            }
            if (data.length == 0) {
                return 0;
            }
            BlockingCalls.call(() -> {
                fd.writeFully(data, 0, data.length);
                return null;
            });
            return data.length;
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EPIPE) {
                throw AgentErrors.precondition("stdin is closed: the process is gone");
            }
            throw e;
        } finally {
            lock.unlock();
        }
    }

    /** Closes stdin (idempotent). */
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (tty) {
                try {
                    fd.writeFully(EOT, 0, 1);
                } catch (ErrnoException ignored) {
                    // the terminal is gone already
                }
            }
            fd.close();
        } finally {
            lock.unlock();
        }
    }

    /** Releases the descriptor without ceremony (container removed). */
    public void release() {
        closed = true;
        fd.close();
    }

    public boolean isClosed() {
        return closed;
    }
}
