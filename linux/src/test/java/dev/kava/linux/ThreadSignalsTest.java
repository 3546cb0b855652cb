package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The vCPU kick without KVM: a blocked signal sent with tgkill stays pending on exactly the
 * target thread until taken off, and an ignored disposition does not make the kernel drop it.
 */
class ThreadSignalsTest {
    private static final int KICK = ThreadSignals.sigrtmin() + 2;

    @Test
    void sigrtminIsGlibcs() {
        assertEquals(34, ThreadSignals.sigrtmin());
    }

    @Test
    void aBlockedIgnoredSignalStaysPendingOnItsThreadUntilTaken() throws Exception {
        ThreadSignals.ignore(KICK);
        AtomicInteger tid = new AtomicInteger();
        CountDownLatch blocked = new CountDownLatch(1);
        CountDownLatch sent = new CountDownLatch(1);
        CompletableFuture<boolean[]> seen = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().name("kick-target").start(() -> {
            try {
                ThreadSignals.block(KICK);
                tid.set(ThreadSignals.gettid());
                long mask = ThreadSignals.blockedMask();
                blocked.countDown();
                sent.await(5, TimeUnit.SECONDS);
                boolean first = ThreadSignals.takePending(KICK);
                boolean second = ThreadSignals.takePending(KICK);
                seen.complete(new boolean[] {(mask & (1L << (KICK - 1))) != 0, first, second});
            } catch (Throwable e) {
                seen.completeExceptionally(e);
            }
        });
        assertTrue(blocked.await(5, TimeUnit.SECONDS));
        assertNotEquals(ThreadSignals.gettid(), tid.get(), "a thread of its own");
        ThreadSignals.tgkill(tid.get(), KICK);
        sent.countDown();
        boolean[] r = seen.get(5, TimeUnit.SECONDS);
        t.join();
        assertTrue(r[0], "the kick signal is in the thread's blocked mask");
        assertTrue(r[1], "the kick was pending (not dropped although ignored)");
        assertFalse(r[2], "taken once: nothing left");
    }

    @Test
    void nothingIsPendingWithoutAKick() throws Exception {
        CompletableFuture<Boolean> r = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            ThreadSignals.block(KICK);
            r.complete(ThreadSignals.takePending(KICK));
        });
        assertFalse(r.get(5, TimeUnit.SECONDS));
    }

    @Test
    void unblockClearsTheMaskBit() throws Exception {
        CompletableFuture<long[]> r = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            ThreadSignals.block(KICK);
            long before = ThreadSignals.blockedMask();
            ThreadSignals.unblock(KICK);
            r.complete(new long[] {before, ThreadSignals.blockedMask()});
        });
        long[] m = r.get(5, TimeUnit.SECONDS);
        long bit = 1L << (KICK - 1);
        assertEquals(bit, m[0] & bit);
        assertEquals(0, m[1] & bit);
    }

    @Test
    void badSignalNumbersAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> ThreadSignals.block(0));
        assertThrows(IllegalArgumentException.class, () -> ThreadSignals.tgkill(1, 65));
        ErrnoException e = assertThrows(ErrnoException.class, () -> ThreadSignals.tgkill(Integer.MAX_VALUE, KICK));
        assertEquals(Errno.ESRCH, e.errno());
    }
}
