package dev.kava.vmm.vcpu;

import dev.kava.linux.LinuxException;
import dev.kava.linux.ThreadSignals;
import dev.kava.vmm.VmmException;
import dev.kava.vmm.kvm.KvmVcpu;
import dev.kava.vmm.kvm.VcpuExit;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * One vCPU's thread: a platform thread that loops on {@code KVM_RUN} and hands exits to the VM's
 * {@link ExitHandler}. KVM_RUN blocks in the kernel for as long as the guest runs, so it must
 * never run on a virtual thread (it would pin its carrier).
 *
 * <h2>Kicks</h2>
 * To pause or stop, another thread sets the request, then {@code kvm_run.immediate_exit}, then
 * sends {@link #KICK_SIGNAL} to this thread with {@code tgkill}. The signal is blocked on this
 * thread except inside KVM_RUN ({@code KVM_SET_SIGNAL_MASK}), so it either interrupts a running
 * KVM_RUN or stays pending and makes the next one return at once; no signal handler runs (see
 * {@link ThreadSignals}). After an interrupted run the thread clears {@code immediate_exit}, takes
 * the pending signal, then looks at the requests: a request can never slip between the check and
 * the entry into the guest.
 */
public final class Vcpu {
    /** The real-time signal that kicks vCPU threads (SIGRTMIN + 2; glibc keeps 32 and 33). */
    public static final int KICK_SIGNAL = ThreadSignals.sigrtmin() + 2;

    static {
        // a stray process-wide copy must not terminate the JVM; blocked copies are still queued
        ThreadSignals.ignore(KICK_SIGNAL);
    }

    public enum State { CREATED, RUNNING, PAUSED, STOPPED }

    private final KvmVcpu kvm;
    private final ExitHandler handler;
    private final CountDownLatch started = new CountDownLatch(1);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final LongAdder portExits = new LongAdder();
    private final LongAdder mmioExits = new LongAdder();
    private final LongAdder kicks = new LongAdder();
    private volatile int tid;
    private volatile boolean stopRequested;
    private boolean pauseRequested;
    private State state = State.CREATED;
    private Thread thread;
    private volatile long firstEntryNanos;

    public Vcpu(KvmVcpu kvm, ExitHandler handler) {
        this.kvm = Objects.requireNonNull(kvm, "kvm");
        this.handler = Objects.requireNonNull(handler, "handler");
    }

    public int id() {
        return kvm.id();
    }

    public KvmVcpu kvm() {
        return kvm;
    }

    /** Starts the thread; returns once it is ready to be kicked. */
    public synchronized void start(String name) {
        if (thread != null) {
            throw new IllegalStateException("vCPU " + id() + " already started");
        }
        thread = Thread.ofPlatform().name(name).start(this::loop);
        try {
            if (!started.await(10, TimeUnit.SECONDS)) {
                throw new VmmException("vCPU " + id() + " did not start");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmmException("interrupted while starting vCPU " + id());
        }
    }

    private void loop() {
        try {
            ThreadSignals.block(KICK_SIGNAL);
            tid = ThreadSignals.gettid();
            kvm.setSignalMask(ThreadSignals.blockedMask() & ~(1L << (KICK_SIGNAL - 1)));
        } catch (RuntimeException e) {
            started.countDown();
            end(new VcpuEnd.Failed("vCPU " + id() + " set-up: " + e.getMessage()));
            synchronized (this) {
                state = State.STOPPED;
                notifyAll();
            }
            stopped.countDown();
            handler.vcpuStopped(id());
            return;
        }
        started.countDown();
        try {
            while (true) {
                synchronized (this) {
                    while (pauseRequested && !stopRequested) {
                        state = State.PAUSED;
                        notifyAll();
                        wait();
                    }
                    if (stopRequested) {
                        break;
                    }
                    state = State.RUNNING;
                    notifyAll();
                }
                if (firstEntryNanos == 0) {
                    firstEntryNanos = System.nanoTime();
                }
                VcpuExit exit = kvm.run();
                if (!handle(exit)) {
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            handler.guestEnded(new VcpuEnd.Failed("vCPU " + id() + ": " + e));
        } finally {
            synchronized (this) {
                state = State.STOPPED;
                notifyAll();
            }
            stopped.countDown();
            handler.vcpuStopped(id());
        }
    }

    /** Handles one exit; false when the vCPU must stop. */
    private boolean handle(VcpuExit exit) {
        switch (exit) {
            case VcpuExit.IoOut o -> {
                portExits.increment();
                for (int i = 0; i < o.count(); i++) {
                    handler.portWrite(o.port(), java.util.Arrays.copyOfRange(o.data(), i * o.size(), (i + 1) * o.size()));
                }
            }
            case VcpuExit.IoIn in -> {
                portExits.increment();
                byte[] all = new byte[in.size() * in.count()];
                byte[] one = new byte[in.size()];
                for (int i = 0; i < in.count(); i++) {
                    handler.portRead(in.port(), one);
                    System.arraycopy(one, 0, all, i * in.size(), in.size());
                }
                kvm.completeRead(all);
            }
            case VcpuExit.MmioWrite w -> {
                mmioExits.increment();
                handler.mmioWrite(w.address(), w.data());
            }
            case VcpuExit.MmioRead r -> {
                mmioExits.increment();
                byte[] data = new byte[r.length()];
                handler.mmioRead(r.address(), data);
                kvm.completeRead(data);
            }
            case VcpuExit.Interrupted i -> {
                kicks.increment();
                kvm.requestImmediateExit(false);
                try {
                    ThreadSignals.takePending(KICK_SIGNAL);
                } catch (LinuxException e) {
                    // nothing pending is the usual case; an error here changes nothing
                }
            }
            case VcpuExit.Halted h -> {
                return end(new VcpuEnd.Shutdown("HLT with the interrupt controller in user space"));
            }
            case VcpuExit.Shutdown s -> {
                return end(new VcpuEnd.Shutdown("triple fault"));
            }
            case VcpuExit.SystemEvent e -> {
                return end(switch (e.type()) {
                    case VcpuExit.SystemEvent.RESET -> new VcpuEnd.Reset();
                    case VcpuExit.SystemEvent.SHUTDOWN -> new VcpuEnd.Shutdown("system event");
                    default -> new VcpuEnd.Failed("system event " + e.type() + " (crash)");
                });
            }
            case VcpuExit.FailEntry f -> {
                return end(new VcpuEnd.Failed("KVM_EXIT_FAIL_ENTRY, hardware reason 0x" + Long.toHexString(f.hardwareReason())));
            }
            case VcpuExit.InternalError e -> {
                return end(new VcpuEnd.Failed("KVM_EXIT_INTERNAL_ERROR, suberror " + e.suberror()));
            }
            case VcpuExit.Other o -> {
                return end(new VcpuEnd.Failed("unexpected KVM exit reason " + o.reason()));
            }
        }
        return true;
    }

    private boolean end(VcpuEnd end) {
        handler.guestEnded(end);
        return false;
    }

    /** Asks the vCPU to leave the guest and wait; {@link #awaitPaused} waits until it has. */
    public synchronized void requestPause() {
        pauseRequested = true;
        kick();
    }

    /** Waits until the vCPU is paused (or stopped); false on timeout. */
    public synchronized boolean awaitPaused(long timeoutMillis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (state != State.PAUSED && state != State.STOPPED && thread != null) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }

    /** Lets a paused vCPU run again. */
    public synchronized void resume() {
        pauseRequested = false;
        notifyAll();
    }

    /** Asks the vCPU to stop for good (returns at once; {@link #join} waits). */
    public void requestStop() {
        stopRequested = true;
        synchronized (this) {
            notifyAll();
        }
        kick();
    }

    /** Waits for the thread to end; false on timeout. */
    public boolean join(long timeoutMillis) throws InterruptedException {
        return thread == null || stopped.await(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    private void kick() {
        kvm.requestImmediateExit(true);
        int t = tid;
        if (t != 0 && stopped.getCount() > 0) {
            try {
                ThreadSignals.tgkill(t, KICK_SIGNAL);
            } catch (LinuxException e) {
                // the thread ended meanwhile: nothing to kick
            }
        }
    }

    /** The thread's kernel id once started, else 0. */
    public int tid() {
        return tid;
    }

    public synchronized State state() {
        return state;
    }

    /** When the thread first entered the guest ({@link System#nanoTime()}), 0 if not yet. */
    public long firstEntryNanos() {
        return firstEntryNanos;
    }

    public long portExits() {
        return portExits.sum();
    }

    public long mmioExits() {
        return mmioExits.sum();
    }

    public long kicks() {
        return kicks.sum();
    }
}
