package dev.kava.agent.process;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.LinuxException;
import dev.kava.linux.Processes;
import dev.kava.linux.WaitStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Spawns and reaps. Never {@code waitpid(-1)}: the JDK's own reaper waits on the pids it spawned,
 * and a wait on any child would steal their exit codes. Instead:
 * <ul>
 *   <li>{@link #start} spawns through the JDK and records the pid as owned (under the sweep lock,
 *       so a sweep can never see it unowned);
 *   <li>{@link #adopt} takes over a pid that was reparented to us (a container's init after
 *       {@code crun create} exited) and waits for it on a platform thread;
 *   <li>{@link #sweep} reaps the zombie children nobody owns: orphans reparented to the agent.
 *       {@link #holdSweeps} suspends sweeping while a pid we are about to adopt is in flight.
 * </ul>
 * One instance per JVM.
 */
public final class ChildProcesses implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.process");

    private final ReentrantLock lock = new ReentrantLock();
    private final Set<Integer> owned = new HashSet<>();
    private int holds;
    private volatile boolean closed;
    private Thread sweeper;

    /** Sweeps every {@code periodMillis} on a daemon platform thread until closed. */
    public synchronized void startSweeping(long periodMillis) {
        if (sweeper != null) {
            return;
        }
        sweeper = Thread.ofPlatform().daemon().name("reaper").stackSize(256 * 1024).start(() -> {
            while (!closed) {
                try {
                    Thread.sleep(periodMillis);
                    sweep();
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "reaper: " + e.getMessage());
                }
            }
        });
    }

    /** Makes this process the subreaper of its orphaned descendants; false if that failed. */
    public static boolean becomeSubreaper() {
        try {
            Processes.setChildSubreaper();
            return true;
        } catch (LinuxException e) {
            LOG.warning("cannot become child subreaper: " + e.getMessage());
            return false;
        }
    }

    /** Spawns through the JDK; the JDK reaps the child and keeps its exit code. */
    public Process start(ProcessBuilder pb) throws IOException {
        Process p;
        lock.lock();
        try {
            p = pb.start();
            owned.add((int) p.pid());
        } finally {
            lock.unlock();
        }
        int pid = (int) p.pid();
        p.onExit().whenComplete((x, e) -> disown(pid));
        return p;
    }

    /**
     * Takes over a child reparented to us and waits for it on a platform thread. The future
     * completes with the exit status (code, or 128 + signal). If the pid is not our child
     * (ECHILD: no subreaper), it waits for the pid to disappear and reports 255.
     */
    public CompletableFuture<Integer> adopt(int pid, String name) {
        lock.lock();
        try {
            owned.add(pid);
        } finally {
            lock.unlock();
        }
        CompletableFuture<Integer> exit = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("wait-" + name).stackSize(256 * 1024).start(() -> {
            int status;
            try {
                status = waitFor(pid);
            } catch (Throwable t) {
                disown(pid);
                exit.completeExceptionally(t);
                return;
            }
            disown(pid); // before anyone learns of the exit
            exit.complete(status);
        });
        return exit;
    }

    private static int waitFor(int pid) throws InterruptedException {
        while (true) {
            WaitStatus st;
            try {
                st = Processes.waitpid(pid, 0);
            } catch (ErrnoException e) {
                if (e.errno() != Errno.ECHILD) {
                    throw e;
                }
                LOG.warning("pid " + pid + " is not our child; polling until it is gone");
                while (Files.exists(Path.of("/proc/" + pid))) {
                    Thread.sleep(100);
                }
                return 255;
            }
            if (st != null && (st.exited() || st.signaled())) {
                return st.toExitStatus();
            }
        }
    }

    private void disown(int pid) {
        lock.lock();
        try {
            owned.remove(pid);
        } finally {
            lock.unlock();
        }
    }

    /** Suspends sweeping until the returned handle is closed (nestable). */
    public Hold holdSweeps() {
        lock.lock();
        try {
            holds++;
        } finally {
            lock.unlock();
        }
        return new Hold();
    }

    /** A suspension of sweeping; close it once the pids in flight are adopted. */
    public final class Hold implements AutoCloseable {
        private boolean released;

        private Hold() {}

        @Override
        public void close() {
            lock.lock();
            try {
                if (!released) {
                    released = true;
                    holds--;
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** Reaps the zombie children nobody owns; returns how many. */
    public int sweep() {
        lock.lock();
        try {
            if (holds > 0) {
                return 0;
            }
            List<Integer> zombies = Processes.zombieChildren();
            int reaped = 0;
            for (int pid : zombies) {
                if (owned.contains(pid)) {
                    continue;
                }
                try {
                    WaitStatus st = Processes.waitpid(pid, Processes.WNOHANG);
                    if (st != null) {
                        reaped++;
                        if (LOG.isLoggable(Level.FINE)) {
                            LOG.fine("reaped orphan " + pid + " status 0x" + Integer.toHexString(st.raw()));
                        }
                    }
                } catch (ErrnoException e) {
                    // reaped by someone else meanwhile
                }
            }
            return reaped;
        } finally {
            lock.unlock();
        }
    }

    /** Whether a pid is owned right now (for tests and diagnostics). */
    public boolean owns(int pid) {
        lock.lock();
        try {
            return owned.contains(pid);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        closed = true;
        Thread t;
        synchronized (this) {
            t = sweeper;
        }
        if (t != null) {
            t.interrupt();
        }
    }
}
