package dev.kava.agent;

import dev.kava.ttrpc.CallContext;
import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcException;

/**
 * Blocking waits inside RPC handlers that end when the call is cancelled (its deadline passed,
 * its connection closed). ttrpc does not interrupt handlers; this interrupts the waiting thread
 * from {@link CallContext#onCancel}, but only while it is inside the wait, so nothing else the
 * handler does is ever interrupted.
 */
public final class Interruptible {
    /** A blocking wait that responds to interrupts. */
    @FunctionalInterface
    public interface Wait<T> {
        T get() throws Exception;
    }

    private Interruptible() {}

    /** Runs {@code wait}; throws CANCELLED if the call is cancelled meanwhile. */
    public static <T> T await(CallContext ctx, Wait<T> wait) throws Exception {
        if (ctx == null) {
            return wait.get();
        }
        Thread me = Thread.currentThread();
        Object guard = new Object();
        boolean[] active = {true};
        ctx.onCancel(() -> {
            synchronized (guard) {
                if (active[0]) {
                    me.interrupt();
                }
            }
        });
        try {
            return wait.get();
        } catch (InterruptedException e) {
            throw new TtrpcException(Code.CANCELLED, "call cancelled");
        } finally {
            synchronized (guard) {
                active[0] = false;
            }
            Thread.interrupted(); // clear a late interrupt
        }
    }
}
