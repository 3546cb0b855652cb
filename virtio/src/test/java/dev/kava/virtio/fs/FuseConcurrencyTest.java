package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseKernel.*;
import static dev.kava.virtio.fs.FuseWire.cstr;
import static dev.kava.virtio.fs.FuseWire.request;
import static dev.kava.virtio.fs.FuseWire.struct;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Errno;
import dev.kava.virtio.fs.FuseWire.Reply;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Several queues at once: lookups, uses and FORGETs of the same inodes race on platform threads.
 * Every reply stays well-formed, only the expected errnos appear, and when the dust settles every
 * lookup the replies handed out has been forgotten and every descriptor closed.
 */
class FuseConcurrencyTest extends FuseTestSupport {
    @Test
    void lookupsUsesAndForgetsRaceSafely() throws Exception {
        for (int i = 0; i < 8; i++) {
            Files.writeString(share.resolve("f" + i), "file " + i);
        }
        long fds = fdCount();
        Set<Integer> errors = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            int seed = t;
            threads.add(Thread.ofPlatform().start(() -> {
                try (Arena arena = Arena.ofConfined()) {
                    java.util.Random random = new java.util.Random(seed);
                    MemorySegment out = arena.allocate(4096);
                    for (int i = 0; i < 3000; i++) {
                        String name = "f" + random.nextInt(8);
                        int n = fuse.server.handle(List.of(MemorySegment.ofArray(
                                request(FUSE_LOOKUP, i, ROOT, 0, 0, cstr(name)))), List.of(out));
                        Reply r = FuseDriver.read(n, List.of(out));
                        assertEquals(0, r.error());
                        long node = r.payload().getLong(0);
                        // use it, possibly after another thread forgot its own lookup of it
                        n = fuse.server.handle(List.of(MemorySegment.ofArray(
                                request(FUSE_GETATTR, i, node, 0, 0, new byte[16]))), List.of(out));
                        errors.add(FuseDriver.read(n, List.of(out)).error());
                        n = fuse.server.handle(List.of(MemorySegment.ofArray(
                                request(FUSE_OPEN, i, node, 0, 0, new byte[8]))), List.of(out));
                        Reply open = FuseDriver.read(n, List.of(out));
                        errors.add(open.error());
                        if (open.error() == 0) {
                            long fh = open.payload().getLong(0);
                            n = fuse.server.handle(List.of(MemorySegment.ofArray(request(FUSE_READ, i, node, 0, 0,
                                    struct(40, b -> b.putLong(fh).putLong(0).putInt(100))))), List.of(out));
                            assertTrue(new String(FuseDriver.read(n, List.of(out)).payloadBytes()).startsWith("file "));
                            fuse.server.handle(List.of(MemorySegment.ofArray(
                                    request(FUSE_RELEASE, i, node, 0, 0, struct(24, b -> b.putLong(fh))))), List.of(out));
                        }
                        fuse.server.handleHighPriority(List.of(MemorySegment.ofArray(
                                request(FUSE_FORGET, i, node, 0, 0, struct(8, b -> b.putLong(1))))), List.of());
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertTrue(Set.of(0, -Errno.EBADF).containsAll(errors), "errnos seen: " + errors);
        assertEquals(1, fuse.server.inodeCount(), "every lookup was forgotten");
        assertEquals(0, fuse.server.openHandleCount());
        assertEquals(fds, fdCount());
    }
}
