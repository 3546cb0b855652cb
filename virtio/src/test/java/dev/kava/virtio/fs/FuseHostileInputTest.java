package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseDriver.ok;
import static dev.kava.virtio.fs.FuseKernel.*;
import static dev.kava.virtio.fs.FuseWire.cstr;
import static dev.kava.virtio.fs.FuseWire.request;
import static dev.kava.virtio.fs.FuseWire.struct;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Errno;
import dev.kava.virtio.fs.FuseWire.Entry;
import dev.kava.virtio.fs.FuseWire.Reply;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Malformed, lying and hostile requests: each gets the errno the driver expects, nothing else happens. */
class FuseHostileInputTest extends FuseTestSupport {
    /** Every op struct's size, to cut each one byte short. */
    private static final Map<Integer, Integer> STRUCTS = Map.ofEntries(
            Map.entry(FUSE_GETATTR, 16), Map.entry(FUSE_SETATTR, 88), Map.entry(FUSE_MKNOD, 16),
            Map.entry(FUSE_MKDIR, 8), Map.entry(FUSE_RENAME, 8), Map.entry(FUSE_RENAME2, 16),
            Map.entry(FUSE_LINK, 8), Map.entry(FUSE_OPEN, 8), Map.entry(FUSE_READ, 40), Map.entry(FUSE_WRITE, 40),
            Map.entry(FUSE_RELEASE, 24), Map.entry(FUSE_FSYNC, 16), Map.entry(FUSE_SETXATTR, 8),
            Map.entry(FUSE_GETXATTR, 8), Map.entry(FUSE_LISTXATTR, 8), Map.entry(FUSE_FLUSH, 24),
            Map.entry(FUSE_INIT, 16), Map.entry(FUSE_OPENDIR, 8), Map.entry(FUSE_READDIR, 40),
            Map.entry(FUSE_RELEASEDIR, 24), Map.entry(FUSE_FSYNCDIR, 16), Map.entry(FUSE_ACCESS, 8),
            Map.entry(FUSE_CREATE, 16), Map.entry(FUSE_FALLOCATE, 32), Map.entry(FUSE_READDIRPLUS, 40),
            Map.entry(FUSE_LSEEK, 24), Map.entry(FUSE_COPY_FILE_RANGE, 56));

    @Test
    void truncatedHeadersAndLyingLengths() {
        byte[] lookup = request(FUSE_LOOKUP, 77, ROOT, 0, 0, cstr("x"));
        // fewer bytes than a header: EINVAL, unique unknown
        Reply r = fuse.send(java.util.Arrays.copyOf(lookup, 39), 64);
        assertEquals(-Errno.EINVAL, r.error());
        assertEquals(0, r.unique());
        assertEquals(0, fuse.send(java.util.Arrays.copyOf(lookup, 39), 15).length(), "no room for a header: no reply");
        assertEquals(0, fuse.send(lookup, 0).length());
        // header.len beyond the buffers
        ByteBuffer.wrap(lookup).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 10_000);
        r = fuse.send(lookup, 64);
        assertEquals(-Errno.EINVAL, r.error());
        assertEquals(77, r.unique());
        // header.len below the header
        ByteBuffer.wrap(lookup).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 12);
        assertEquals(-Errno.EINVAL, fuse.send(lookup, 64).error());
        ByteBuffer.wrap(lookup).order(ByteOrder.LITTLE_ENDIAN).putInt(0, -1);
        assertEquals(-Errno.EINVAL, fuse.send(lookup, 64).error());
        // header.len cutting the name before its NUL
        ByteBuffer.wrap(lookup).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 41);
        assertEquals(-Errno.EINVAL, fuse.send(lookup, 64).error());
        // bytes past header.len are ignored
        byte[] padded = java.util.Arrays.copyOf(request(FUSE_GETATTR, 78, ROOT, 0, 0, new byte[16]), 40 + 16 + 100);
        assertEquals(78, ok(fuse.send(padded, 4096)).unique());
    }

    @Test
    void everyOpStructCutShortIsEinval() throws Exception {
        for (Map.Entry<Integer, Integer> e : STRUCTS.entrySet()) {
            Reply r = fuse.call(e.getKey(), ROOT, 4096, new byte[e.getValue() - 1]);
            assertEquals(-Errno.EINVAL, r.error(), "opcode " + e.getKey());
            assertEquals(-Errno.EINVAL, fuse.call(e.getKey(), ROOT, 4096).error(), "opcode " + e.getKey() + " without body");
        }
        assertTrue(fuse.server.isInitialized(), "a broken INIT changes nothing");
        try (var s = Files.list(share)) {
            assertEquals(0, s.count());
        }
    }

    @Test
    void badNames() {
        assertEquals(-Errno.EINVAL, fuse.call(FUSE_LOOKUP, ROOT, 4096, FuseWire.bytes("no-nul")).error());
        assertEquals(-Errno.ENAMETOOLONG, fuse.call(FUSE_LOOKUP, ROOT, 4096, "y".repeat(10_000).getBytes()).error());
        assertEquals(-Errno.EINVAL, fuse.call(FUSE_LOOKUP, ROOT, 4096, new byte[1]).error(), "empty name");
        assertEquals(-Errno.ENOENT, fuse.call(FUSE_LOOKUP, ROOT, 4096, new byte[] {'a', 0, '/', '.', '.'}).error(),
                "the name ends at its NUL");
        assertEquals(-Errno.ENAMETOOLONG, fuse.symlinkReply(ROOT, "s", "t".repeat(4096)).error());
        ok(fuse.symlinkReply(ROOT, "s", "t".repeat(4095)));
        assertEquals(-Errno.EINVAL, fuse.call(FUSE_SYMLINK, ROOT, 4096, cstr("s2")).error(), "no target");
        assertEquals(-Errno.EINVAL, fuse.call(FUSE_RENAME, ROOT, 4096, struct(8, b -> b.putLong(ROOT)), cstr("s")).error(),
                "no second name");
    }

    @Test
    void unknownOpcodesAreEnosys() {
        for (int op : new int[] {0, 7, 19, FUSE_GETLK, FUSE_SETLK, FUSE_SETLKW, FUSE_BMAP, FUSE_IOCTL, FUSE_POLL, 41,
                FUSE_SETUPMAPPING, FUSE_REMOVEMAPPING, FUSE_SYNCFS, FUSE_TMPFILE, 52, 4096, 9999, -1, Integer.MAX_VALUE}) {
            assertEquals(-Errno.ENOSYS, fuse.call(op, ROOT, 4096, new byte[64]).error(), "opcode " + op);
        }
    }

    @Test
    void requestsBeforeInitAndBadVersions() {
        try (FuseDriver fresh = new FuseDriver(FsConfig.of(share), 3)) {
            assertEquals(-Errno.EIO, fresh.lookupReply(ROOT, "x").error());
            assertEquals(-Errno.EIO, fresh.call(9999, ROOT, 64).error());
            assertEquals(-Errno.EPROTO, fresh.call(FUSE_INIT, 0, 80, struct(16, b -> b.putInt(6).putInt(40))).error());
            assertEquals(-Errno.EPROTO, fresh.init(30, -1).error());
            ByteBuffer p = ok(fresh.call(FUSE_INIT, 0, 80, struct(64, b -> b.putInt(8).putInt(0)))).payload();
            assertEquals(7, p.getInt(0), "a newer major is told ours");
            assertFalse(fresh.server.isInitialized());
            assertEquals(-Errno.ERANGE, fresh.call(FUSE_INIT, 0, 16 + 63, struct(64, b -> b.putInt(7).putInt(36))).error());
            assertFalse(fresh.server.isInitialized());
            fresh.init();
            assertTrue(fresh.server.isInitialized());
        }
    }

    @Test
    void unknownNodeidsAndHandlesAreEbadf() throws Exception {
        Files.writeString(share.resolve("f"), "x");
        long file = fuse.lookup(ROOT, "f").nodeid();
        long fh = fuse.open(file, 0);
        long dirFh = fuse.opendir(ROOT);
        for (long node : new long[] {0, 2 + 1000, 999_999, -1, Long.MIN_VALUE}) {
            assertEquals(-Errno.EBADF, fuse.lookupReply(node, "x").error());
            assertEquals(-Errno.EBADF, fuse.getattrReply(node).error());
            assertEquals(-Errno.EBADF, fuse.setattrReply(node, FATTR_MODE, b -> { }).error());
            assertEquals(-Errno.EBADF, fuse.call(FUSE_READLINK, node, 4096).error());
            assertEquals(-Errno.EBADF, fuse.mkdirReply(node, "d", 0755).error());
            assertEquals(-Errno.EBADF, fuse.openReply(node, 0).error());
            assertEquals(-Errno.EBADF, fuse.call(FUSE_OPENDIR, node, 64, new byte[8]).error());
            assertEquals(-Errno.EBADF, fuse.call(FUSE_STATFS, node, 128).error());
            assertEquals(-Errno.EBADF, fuse.call(FUSE_GETXATTR, node, 64, struct(8, b -> b.putInt(0)), cstr("user.x")).error());
            assertEquals(-Errno.EBADF, fuse.createReply(node, "c", 2, 0644).error());
        }
        for (long bad : new long[] {0, 12345, -1, dirFh}) {
            assertEquals(-Errno.EBADF, fuse.readReply(bad, 0, 10, 64).error(), "READ fh " + bad);
            assertEquals(-Errno.EBADF, fuse.writeReply(bad, 0, new byte[3]).error());
            assertEquals(-Errno.EBADF, fuse.call(FUSE_FLUSH, file, 16, struct(24, b -> b.putLong(bad))).error());
            assertEquals(-Errno.EBADF, fuse.call(FUSE_FSYNC, file, 16, struct(16, b -> b.putLong(bad))).error());
            assertEquals(-Errno.EBADF, fuse.call(FUSE_FALLOCATE, file, 16, struct(32, b -> b.putLong(bad).putLong(0).putLong(1))).error());
            assertEquals(-Errno.EBADF, fuse.call(FUSE_LSEEK, file, 24, struct(24, b -> b.putLong(bad).putLong(0).putInt(3))).error());
            assertEquals(-Errno.EBADF, fuse.releaseReply(bad).error());
        }
        for (long bad : new long[] {0, 12345, -1, fh}) {
            assertEquals(-Errno.EBADF, fuse.readdirReply(bad, 0, 4096, false).error(), "READDIR fh " + bad);
            assertEquals(-Errno.EBADF, fuse.readdirReply(bad, 0, 4096, true).error());
            assertEquals(-Errno.EBADF, fuse.releasedirReply(bad).error());
        }
        assertEquals(2, fuse.server.openHandleCount(), "no bad fh closed a good one");
    }

    @Test
    void repliesThatDoNotFitHaveNoSideEffects() throws Exception {
        Files.writeString(share.resolve("f"), "0123456789");
        int before = fuse.server.inodeCount();
        assertEquals(-Errno.ERANGE, fuse.call(FUSE_LOOKUP, ROOT, 16 + 127, cstr("f")).error());
        assertEquals(0, fuse.call(FUSE_LOOKUP, ROOT, 15, cstr("f")).length(), "not even a header: no reply");
        assertEquals(before, fuse.server.inodeCount(), "no lookup was counted");
        assertEquals(-Errno.ERANGE,
                fuse.call(FUSE_CREATE, ROOT, 16 + 143, struct(16, b -> b.putInt(2).putInt(0644)), cstr("new2")).error());
        assertFalse(Files.exists(share.resolve("new2")), "CREATE whose answer cannot be delivered creates nothing");
        assertEquals(-Errno.ERANGE, fuse.call(FUSE_MKDIR, ROOT, 100, struct(8, b -> b.putInt(0755)), cstr("d")).error());
        assertFalse(Files.exists(share.resolve("d")));
        assertEquals(-Errno.ERANGE, fuse.call(FUSE_GETATTR, ROOT, 16 + 103, new byte[16]).error());
        long node = fuse.lookup(ROOT, "f").nodeid();
        int handles = fuse.server.openHandleCount();
        assertEquals(-Errno.ERANGE, fuse.call(FUSE_OPEN, node, 16 + 15, new byte[8]).error());
        assertEquals(handles, fuse.server.openHandleCount());
        long fh = fuse.open(node, 0);
        Reply shortRead = fuse.readReply(fh, 0, 10, 16 + 4);
        assertEquals("0123", new String(ok(shortRead).payloadBytes()), "READ stops where the buffers end");
        assertEquals(10, ok(fuse.readReply(fh, 0, -1, 16 + 4096)).payloadSize(), "size 0xffffffff is capped");
    }

    @Test
    void writesWhoseSizeLies() throws Exception {
        FuseDriver.Created c = fuse.create(ROOT, "w", 2, 0644);
        Reply r = fuse.call(FUSE_WRITE, 0, 64, struct(40, b -> b.putLong(c.fh()).putLong(0).putInt(100)), new byte[10]);
        assertEquals(-Errno.EINVAL, r.error(), "size beyond the payload");
        r = fuse.call(FUSE_WRITE, 0, 64, struct(40, b -> b.putLong(c.fh()).putLong(0).putInt((1 << 20) + 1)), new byte[10]);
        assertEquals(-Errno.EINVAL, r.error(), "size beyond max_write");
        r = fuse.call(FUSE_WRITE, 0, 64, struct(40, b -> b.putLong(c.fh()).putLong(-5).putInt(1)), new byte[1]);
        assertEquals(-Errno.EINVAL, r.error(), "negative offset");
        assertEquals(0, Files.size(share.resolve("w")));
        r = fuse.call(FUSE_SETXATTR, ROOT, 64, struct(8, b -> b.putInt(60_000)), cstr("user.a"), new byte[10]);
        assertEquals(-Errno.EINVAL, r.error(), "xattr value beyond the payload");
        r = fuse.call(FUSE_SETXATTR, ROOT, 64, struct(8, b -> b.putInt(70_000)), cstr("user.a"), new byte[10]);
        assertEquals(-Errno.E2BIG, r.error());
        r = fuse.call(FUSE_SETXATTR, ROOT, 64, struct(8, b -> b.putInt(1).putInt(4)), cstr("user.a"), new byte[1]);
        assertEquals(-Errno.EINVAL, r.error(), "unknown setxattr flags");
    }

    @Test
    void aMillionForgetsOfUnknownNodeidsAreFastAndLeakNothing() throws Exception {
        for (int i = 0; i < 100; i++) {
            Files.writeString(share.resolve("f" + i), "");
        }
        List<Entry> known = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            known.add(fuse.lookup(ROOT, "f" + i));
        }
        long fds = fdCount();
        Random random = new Random(42);
        long start = System.nanoTime();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment req = arena.allocate(48);
            List<MemorySegment> in = List.of(req);
            for (int i = 0; i < 1_000_000; i++) {
                long nodeid = (1L << 20) + (random.nextLong() >>> 1);
                req.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 48);
                req.set(ValueLayout.JAVA_INT_UNALIGNED, 4, FUSE_FORGET);
                req.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, i);
                req.set(ValueLayout.JAVA_LONG_UNALIGNED, 16, nodeid);
                req.set(ValueLayout.JAVA_LONG_UNALIGNED, 40, random.nextLong());
                assertEquals(0, i % 2 == 0 ? fuse.server.handle(in, List.of()) : fuse.server.handleHighPriority(in, List.of()));
            }
            // one BATCH_FORGET with 100,000 random entries, and one whose count lies
            int n = 100_000;
            MemorySegment batch = arena.allocate(48 + 16L * n);
            batch.set(ValueLayout.JAVA_INT_UNALIGNED, 0, (int) batch.byteSize());
            batch.set(ValueLayout.JAVA_INT_UNALIGNED, 4, FUSE_BATCH_FORGET);
            batch.set(ValueLayout.JAVA_INT_UNALIGNED, 40, n);
            for (int k = 0; k < n; k++) {
                batch.set(ValueLayout.JAVA_LONG_UNALIGNED, 48 + 16L * k, (1L << 20) + (random.nextLong() >>> 1));
                batch.set(ValueLayout.JAVA_LONG_UNALIGNED, 56 + 16L * k, 1);
            }
            assertEquals(0, fuse.server.handleHighPriority(List.of(batch), List.of()));
            batch.set(ValueLayout.JAVA_INT_UNALIGNED, 40, -1);
            assertEquals(0, fuse.server.handle(List.of(batch.asSlice(0, 48 + 16 * 10)), List.of()));
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        System.out.println("1,000,000 FORGETs + a 100,000-entry BATCH_FORGET: " + millis + " ms");
        assertTrue(millis < 20_000, "took " + millis + " ms");
        assertEquals(fds, fdCount(), "no descriptor leaked or closed");
        assertEquals(101, fuse.server.inodeCount());
        for (Entry e : known) {
            assertEquals(e.attr().ino(), fuse.getattr(e.nodeid()).ino());
        }
        // a real BATCH_FORGET frees them all, with their descriptors
        byte[][] parts = new byte[known.size() + 1][];
        parts[0] = struct(8, b -> b.putInt(known.size()));
        for (int k = 0; k < known.size(); k++) {
            long id = known.get(k).nodeid();
            parts[k + 1] = struct(16, b -> b.putLong(id).putLong(1));
        }
        assertEquals(0, fuse.call(FUSE_BATCH_FORGET, 0, 0, parts).length());
        assertEquals(1, fuse.server.inodeCount());
        assertEquals(fds - 100, fdCount());
    }

    @Test
    void highPriorityQueueTakesOnlyForgetsAndInterrupts() {
        Reply r;
        try (Arena arena = Arena.ofConfined()) {
            List<MemorySegment> out = fuse.outBuffers(arena, 64);
            int n = fuse.server.handleHighPriority(fuse.split(arena, request(FUSE_LOOKUP, 5, ROOT, 0, 0, cstr("x"))), out);
            r = FuseDriver.read(n, out);
            assertEquals(-Errno.EINVAL, r.error());
            n = fuse.server.handleHighPriority(fuse.split(arena, request(FUSE_INTERRUPT, 6, 0, 0, 0, struct(8, b -> b.putLong(5)))), out);
            assertEquals(0, n);
        }
        assertEquals(0, fuse.call(FUSE_INTERRUPT, 0, 64, struct(8, b -> b.putLong(1))).length());
        assertEquals(0, fuse.call(FUSE_FORGET, ROOT, 64).length(), "a FORGET without its struct is dropped");
    }

    @Test
    void oddBuffersNeverThrow() {
        byte[] getattr = request(FUSE_GETATTR, 9, ROOT, 0, 0, new byte[16]);
        assertEquals(0, fuse.server.handle(null, null));
        assertEquals(0, fuse.server.handle(List.of(), List.of()));
        try (Arena arena = Arena.ofConfined()) {
            // heap segments work (through a bounce buffer where a system call needs memory)
            MemorySegment heapOut = MemorySegment.ofArray(new byte[4096]);
            int n = fuse.server.handle(List.of(MemorySegment.ofArray(getattr)), List.of(heapOut));
            assertEquals(0, FuseDriver.read(n, List.of(heapOut)).error());
            // read-only reply buffers: nothing can be written, nothing is thrown
            MemorySegment ro = arena.allocate(4096).asReadOnly();
            assertEquals(0, fuse.server.handle(fuse.split(arena, getattr), List.of(ro)));
            // memory that went away under the request
            Arena gone = Arena.ofConfined();
            MemorySegment dead = gone.allocate(4096);
            gone.close();
            assertEquals(0, fuse.server.handle(fuse.split(arena, getattr), List.of(dead)));
            List<MemorySegment> out = fuse.outBuffers(arena, 64);
            n = fuse.server.handle(List.of(dead), out);
            assertEquals(-Errno.EIO, FuseDriver.read(n, out).error());
            java.util.ArrayList<MemorySegment> withNull = new java.util.ArrayList<>();
            withNull.add(null);
            assertEquals(0, fuse.server.handle(withNull, withNull));
        }
    }

    @Test
    void heapSegmentsReadAndWriteThroughABounceBuffer() {
        FuseDriver.Created c = fuse.create(ROOT, "heap", 2, 0644);
        byte[] data = "through the heap".getBytes();
        byte[] write = request(FUSE_WRITE, 10, 0, 0, 0, struct(40, b -> b.putLong(c.fh()).putLong(0).putInt(data.length)), data);
        MemorySegment out = MemorySegment.ofArray(new byte[64]);
        int n = fuse.server.handle(List.of(MemorySegment.ofArray(write)), List.of(out));
        assertEquals(data.length, ok(FuseDriver.read(n, List.of(out))).payload().getInt(0));
        byte[] read = request(FUSE_READ, 11, 0, 0, 0, struct(40, b -> b.putLong(c.fh()).putLong(0).putInt(100)));
        MemorySegment a = MemorySegment.ofArray(new byte[20]);
        MemorySegment b2 = MemorySegment.ofArray(new byte[80]);
        n = fuse.server.handle(List.of(MemorySegment.ofArray(read)), List.of(a, b2));
        assertEquals("through the heap", new String(ok(FuseDriver.read(n, List.of(a, b2))).payloadBytes()));
    }

    @Test
    void randomisedRequestsNeverEscapeOrThrow() throws Exception {
        Files.writeString(share.resolve("f"), "data");
        Files.createDirectory(share.resolve("d"));
        long fds = fdCount();
        Random random = new Random(7);
        int[] opcodes = {FUSE_LOOKUP, FUSE_FORGET, FUSE_GETATTR, FUSE_SETATTR, FUSE_READLINK, FUSE_SYMLINK, FUSE_MKNOD,
                FUSE_MKDIR, FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME, FUSE_LINK, FUSE_OPEN, FUSE_READ, FUSE_WRITE,
                FUSE_STATFS, FUSE_RELEASE, FUSE_FSYNC, FUSE_SETXATTR, FUSE_GETXATTR, FUSE_LISTXATTR, FUSE_REMOVEXATTR,
                FUSE_FLUSH, FUSE_OPENDIR, FUSE_READDIR, FUSE_RELEASEDIR, FUSE_FSYNCDIR, FUSE_ACCESS, FUSE_CREATE,
                FUSE_BATCH_FORGET, FUSE_READDIRPLUS, FUSE_RENAME2, FUSE_LSEEK, 77};
        String[] names = {"f", "d", "x", "..", ".", "a/b", "", "f\u0000g"};
        for (int i = 0; i < 20_000; i++) {
            int op = opcodes[random.nextInt(opcodes.length)];
            long node = random.nextInt(4) == 0 ? random.nextLong() : 1 + random.nextInt(6);
            byte[] body = new byte[random.nextInt(96)];
            random.nextBytes(body);
            // small handle numbers and offsets, so that some requests reach real handles
            ByteBuffer b = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
            if (body.length >= 24 && random.nextBoolean()) {
                b.putLong(0, random.nextInt(8)).putLong(8, random.nextInt(1 << 16)).putInt(16, random.nextInt(1 << 16));
            }
            byte[] name = cstr(names[random.nextInt(names.length)]);
            byte[] req = random.nextBoolean() ? request(op, i, node, 1000, 1000, body, name, name)
                    : request(op, i, node, 1000, 1000, name, body);
            Reply r = fuse.send(req, random.nextInt(3) == 0 ? random.nextInt(200) : 1 << 16);
            assertTrue(r.length() == 0 || r.unique() == i, "op " + op + " node " + node + " reply " + r);
        }
        ok(fuse.call(FUSE_DESTROY, 0, 16));
        assertEquals(fds, fdCount(), "DESTROY closed everything the storm opened");
    }
}
