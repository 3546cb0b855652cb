package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class EpollTest {
    private static void signal(Fd eventfd) {
        byte[] one = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(1).array();
        eventfd.writeFully(one, 0, 8);
    }

    private static Fd eventfd() {
        return SystemCalls.eventfd(0, SystemCalls.EFD_CLOEXEC | SystemCalls.EFD_NONBLOCK);
    }

    @Test
    void reportsReadyDescriptorsWithTheirData() {
        try (Epoll epoll = Epoll.create(); Fd a = eventfd(); Fd b = eventfd(); Fd c = eventfd()) {
            epoll.add(a, Epoll.EPOLLIN, 0xA);
            epoll.add(b, Epoll.EPOLLIN, 0xB);
            epoll.add(c, Epoll.EPOLLIN, Long.MIN_VALUE | 0xC);
            assertEquals(List.of(), epoll.waitFor(8, 0));
            signal(a);
            signal(c);
            List<Epoll.Event> ready = epoll.waitFor(8, 1000);
            assertEquals(Set.of(0xAL, Long.MIN_VALUE | 0xC), ready.stream().map(Epoll.Event::data).collect(Collectors.toSet()));
            assertTrue(ready.stream().allMatch(Epoll.Event::readable));
            assertTrue(ready.stream().noneMatch(Epoll.Event::hangup));
        }
    }

    @Test
    void maxEventsLimitsOneWait() {
        try (Epoll epoll = Epoll.create(); Fd a = eventfd(); Fd b = eventfd()) {
            epoll.add(a, Epoll.EPOLLIN, 1);
            epoll.add(b, Epoll.EPOLLIN, 2);
            signal(a);
            signal(b);
            assertEquals(1, epoll.waitFor(1, 0).size());
            assertEquals(2, epoll.waitFor(2, 0).size(), "level-triggered: still ready");
        }
    }

    @Test
    void modifyAndDeleteChangeWhatIsReported() {
        try (Epoll epoll = Epoll.create(); Fd a = eventfd()) {
            epoll.add(a, Epoll.EPOLLIN, 1);
            signal(a);
            epoll.modify(a, Epoll.EPOLLIN, 7);
            assertEquals(List.of(new Epoll.Event(Epoll.EPOLLIN, 7)), epoll.waitFor(4, 0));
            epoll.modify(a, Epoll.EPOLLOUT, 8);
            assertEquals(List.of(new Epoll.Event(Epoll.EPOLLOUT, 8)), epoll.waitFor(4, 0));
            epoll.delete(a);
            assertEquals(List.of(), epoll.waitFor(4, 0));
            assertEquals(Errno.ENOENT, assertThrows(ErrnoException.class, () -> epoll.delete(a)).errno());
            epoll.add(a, Epoll.EPOLLIN, 1);
            assertEquals(Errno.EEXIST, assertThrows(ErrnoException.class, () -> epoll.add(a, Epoll.EPOLLIN, 1)).errno());
        }
    }

    @Test
    void timeoutReturnsEmptyAfterAboutThatLong() {
        try (Epoll epoll = Epoll.create(); Fd a = eventfd()) {
            epoll.add(a, Epoll.EPOLLIN, 1);
            long t0 = System.nanoTime();
            assertEquals(List.of(), epoll.waitFor(4, 100));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(ms >= 90 && ms < 2000, "waited " + ms + " ms");
        }
    }

    @Test
    void aBlockedWaitWakesWhenAnotherThreadSignals() throws Exception {
        try (Epoll epoll = Epoll.create(); Fd a = eventfd()) {
            epoll.add(a, Epoll.EPOLLIN, 5);
            CompletableFuture<List<Epoll.Event>> f = new CompletableFuture<>();
            Thread.ofPlatform().daemon().start(() -> f.complete(epoll.waitFor(4, 10_000)));
            Thread.sleep(50);
            assertFalse(f.isDone());
            signal(a);
            assertEquals(5, f.get(5, TimeUnit.SECONDS).getFirst().data());
        }
    }

    @Test
    void peerHangupIsReported() {
        UnixSocket[] pair = UnixSocket.pair();
        try (Epoll epoll = Epoll.create(); UnixSocket a = pair[0]) {
            epoll.add(a.fd(), Epoll.EPOLLIN | Epoll.EPOLLRDHUP, 3);
            pair[1].close();
            List<Epoll.Event> ready = epoll.waitFor(4, 1000);
            assertEquals(1, ready.size());
            assertTrue(ready.getFirst().hangup());
        }
    }

    @Test
    void refusesBadArgumentsAndClosedInstances() {
        Epoll epoll = Epoll.create();
        assertThrows(IllegalArgumentException.class, () -> epoll.waitFor(0, 0));
        assertThrows(IllegalArgumentException.class, () -> epoll.waitFor(Epoll.MAX_EVENTS + 1, 0));
        epoll.close();
        assertEquals(Errno.EBADF, assertThrows(ErrnoException.class, () -> epoll.waitFor(1, 0)).errno());
    }
}
