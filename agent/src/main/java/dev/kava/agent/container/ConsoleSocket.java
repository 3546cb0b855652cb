package dev.kava.agent.container;

import dev.kava.agent.AgentErrors;
import dev.kava.linux.Fd;
import dev.kava.linux.UnixSocket;
import dev.kava.ttrpc.TtrpcException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * crun's {@code --console-socket}: a unix socket the agent listens on; crun connects and passes
 * the pty master by SCM_RIGHTS. Accept and receive block natively, so they run on a platform
 * thread; closing the socket wakes that thread.
 */
final class ConsoleSocket implements AutoCloseable {
    private final Path path;
    private final UnixSocket listener;
    private final CompletableFuture<Fd> master = new CompletableFuture<>();

    private ConsoleSocket(Path path, UnixSocket listener) {
        this.path = path;
        this.listener = listener;
        Thread.ofPlatform().daemon().name("console " + path.getFileName()).stackSize(256 * 1024)
                .start(this::receive);
    }

    static ConsoleSocket listen(Path path) throws IOException {
        Files.deleteIfExists(path);
        return new ConsoleSocket(path, UnixSocket.listen(path, 1));
    }

    Path path() {
        return path;
    }

    private void receive() {
        try (UnixSocket conn = listener.accept()) {
            byte[] buf = new byte[256];
            while (true) {
                UnixSocket.Received r = conn.receive(buf, 0, buf.length, 1);
                if (!r.fds().isEmpty()) {
                    master.complete(r.fds().get(0));
                    return;
                }
                if (r.bytes() < 0) {
                    master.completeExceptionally(new IOException("crun sent no terminal"));
                    return;
                }
            }
        } catch (RuntimeException e) {
            master.completeExceptionally(e);
        }
    }

    /** The pty master crun sent, waiting up to {@code millis}. */
    Fd master(long millis) throws TtrpcException, InterruptedException {
        try {
            return master.get(millis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw AgentErrors.internal("no terminal from crun: " + e.getCause().getMessage());
        } catch (TimeoutException e) {
            throw AgentErrors.internal("no terminal from crun within " + millis + " ms");
        }
    }

    /**
     * The pty master crun sent, or null if {@code crun} exited without sending one (it failed;
     * its log says why) or none came within {@code millis}.
     */
    Fd masterOrExit(Process crun, long millis) throws InterruptedException {
        try {
            CompletableFuture.anyOf(master, crun.onExit()).get(millis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            return null;
        }
        if (!master.isDone()) {
            // crun exited (a short process runs to its end inside `crun exec`): the master it sent first
            // is in the socket, or was never sent; under emulation receiving it may take a while
            try {
                return master.get(2000, TimeUnit.MILLISECONDS);
            } catch (ExecutionException | TimeoutException e) {
                return null;
            }
        }
        return master.isCompletedExceptionally() ? null : master.join();
    }

    @Override
    public void close() {
        listener.close();
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // in a directory removed later anyway
        }
        if (!master.isDone()) {
            master.completeExceptionally(new IOException("console socket closed"));
        }
    }
}
