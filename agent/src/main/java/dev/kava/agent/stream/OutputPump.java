package dev.kava.agent.stream;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A platform thread that reads one descriptor (a pipe's read end, a pty master) until end of
 * stream and feeds an {@link OutputBuffer}. It owns the descriptor and closes it when done. EIO
 * from a pty master (the slave side is gone) counts as end of stream.
 */
public final class OutputPump implements Runnable {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.stream");
    private static final int CHUNK = 32 * 1024;

    private final Fd fd;
    private final OutputBuffer buffer;
    private final String name;

    private OutputPump(Fd fd, OutputBuffer buffer, String name) {
        this.fd = fd;
        this.buffer = buffer;
        this.name = name;
    }

    /** Starts a daemon platform thread pumping {@code fd} into {@code buffer}. */
    public static Thread start(Fd fd, OutputBuffer buffer, String name) {
        return Thread.ofPlatform().daemon().name(name).stackSize(256 * 1024)
                .start(new OutputPump(fd, buffer, name));
    }

    @Override
    public void run() {
        byte[] chunk = new byte[CHUNK];
        try {
            while (true) {
                int n = fd.read(chunk, 0, chunk.length);
                if (n < 0 || !buffer.put(chunk, 0, n)) {
                    break;
                }
            }
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EIO && e.errno() != Errno.EBADF) {
                LOG.log(Level.FINE, name + ": " + e.getMessage());
            }
        } catch (LinuxException e) {
            LOG.log(Level.FINE, name + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            buffer.finish();
            fd.close();
        }
    }
}
