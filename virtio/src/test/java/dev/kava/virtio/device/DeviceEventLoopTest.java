package dev.kava.virtio.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Epoll;
import dev.kava.linux.Fd;
import dev.kava.linux.SystemCalls;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class DeviceEventLoopTest {
    private static Fd eventfd() {
        return SystemCalls.eventfd(0, SystemCalls.EFD_CLOEXEC | SystemCalls.EFD_NONBLOCK);
    }

    private static void signal(Fd fd) {
        fd.write(new byte[] {1, 0, 0, 0, 0, 0, 0, 0}, 0, 8);
    }

    private static void drain(Fd fd) {
        fd.read(new byte[8], 0, 8);
    }

    @Test
    void handlersRunForReadyDescriptorsOnly() {
        try (DeviceEventLoop loop = DeviceEventLoop.create(); Fd a = eventfd(); Fd b = eventfd()) {
            List<String> ran = new ArrayList<>();
            loop.add(a, Epoll.EPOLLIN, ev -> {
                drain(a);
                ran.add("a");
            });
            loop.add(b, Epoll.EPOLLIN, ev -> {
                drain(b);
                ran.add("b");
            });
            assertEquals(2, loop.watched());
            assertEquals(0, loop.runOnce(0));
            signal(b);
            assertEquals(1, loop.runOnce(1000));
            assertEquals(List.of("b"), ran);
            loop.modify(a, 0);
            signal(a);
            assertEquals(0, loop.runOnce(20), "modified to no events: silent");
            loop.remove(a);
            loop.remove(a);
            assertEquals(1, loop.watched());
            assertThrows(IllegalStateException.class, () -> loop.add(b, Epoll.EPOLLIN, ev -> { }), "one registration per descriptor");
        }
    }

    @Test
    void aThrowingHandlerDoesNotStopTheLoop() {
        try (DeviceEventLoop loop = DeviceEventLoop.create(); Fd a = eventfd(); Fd b = eventfd()) {
            AtomicInteger ok = new AtomicInteger();
            loop.add(a, Epoll.EPOLLIN, ev -> {
                drain(a);
                throw new IllegalStateException("a device bug");
            });
            loop.add(b, Epoll.EPOLLIN, ev -> {
                drain(b);
                ok.incrementAndGet();
            });
            signal(a);
            signal(b);
            loop.runOnce(1000);
            loop.runOnce(10);
            assertEquals(1, ok.get());
        }
    }

    @Test
    void onItsOwnPlatformThreadWithTasksAndACleanClose() throws Exception {
        DeviceEventLoop loop = DeviceEventLoop.create();
        Fd a = eventfd();
        CountDownLatch fired = new CountDownLatch(1);
        CountDownLatch task = new CountDownLatch(1);
        Thread[] seen = new Thread[2];
        loop.add(a, Epoll.EPOLLIN, ev -> {
            drain(a);
            seen[0] = Thread.currentThread();
            fired.countDown();
        });
        loop.start("test-devices");
        signal(a);
        assertTrue(fired.await(5, TimeUnit.SECONDS));
        loop.execute(() -> {
            seen[1] = Thread.currentThread();
            task.countDown();
        });
        assertTrue(task.await(5, TimeUnit.SECONDS));
        assertNotNull(loop.thread());
        assertEquals(loop.thread(), seen[0]);
        assertEquals(loop.thread(), seen[1]);
        assertTrue(!loop.thread().isVirtual(), "epoll_wait blocks: a platform thread");
        loop.close();
        assertTrue(!loop.thread().isAlive(), "close waits for the thread");
        a.close();
    }
}
