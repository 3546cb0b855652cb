package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseDriver.ok;
import static dev.kava.virtio.fs.FuseKernel.*;
import static dev.kava.virtio.fs.FuseWire.struct;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kava.linux.Errno;
import dev.kava.virtio.fs.FuseWire.Dirent;
import dev.kava.virtio.fs.FuseWire.Entry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The per-server bounds: ENFILE past maxInodes, EMFILE past maxHandles, nothing grows past them. */
class FuseLimitsTest extends FuseTestSupport {
    @Override
    FsConfig config(Path share) {
        return FsConfig.of(share).withLimits(5, 3);
    }

    @Test
    void inodesBeyondTheLimitAreEnfile() throws Exception {
        for (int i = 0; i < 6; i++) {
            Files.writeString(share.resolve("f" + i), "");
        }
        long fds = fdCount();
        List<Entry> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(fuse.lookup(ROOT, "f" + i));
        }
        assertEquals(5, fuse.server.inodeCount());
        assertEquals(-Errno.ENFILE, fuse.lookupReply(ROOT, "f4").error());
        assertEquals(held.get(0).nodeid(), fuse.lookup(ROOT, "f0").nodeid(), "known inodes still resolve");
        assertEquals(-Errno.ENFILE, fuse.mkdirReply(ROOT, "d", 0755).error());
        assertEquals(-Errno.ENFILE, fuse.createReply(ROOT, "c", 2, 0644).error());
        assertEquals(-Errno.ENFILE, fuse.symlinkReply(ROOT, "s", "t").error());
        assertEquals(-Errno.ENFILE, fuse.mknodReply(ROOT, "n", 010644, 0).error());
        assertFalse(Files.exists(share.resolve("d")), "nothing is created that could not be handed out");
        assertFalse(Files.exists(share.resolve("c")));
        assertEquals(fds + 4, fdCount());

        // READDIRPLUS still lists everything, without entries for the inodes it cannot hold
        long fh = fuse.opendir(ROOT);
        List<Dirent> all = fuse.readdir(fh, 0, 1 << 16, true);
        assertEquals(8, all.size());
        assertEquals(4, all.stream().filter(d -> d.entry().nodeid() != 0).count());
        ok(fuse.releasedirReply(fh));

        fuse.forget(held.get(3).nodeid(), 2); // its LOOKUP and its READDIRPLUS entry
        fuse.lookup(ROOT, "f5");
        assertEquals(5, fuse.server.inodeCount());
    }

    @Test
    void serversSharingABudgetStopAtItAndGetItBack() throws Exception {
        DescriptorBudget budget = new DescriptorBudget(4);
        Path other = Files.createDirectory(tmp.resolve("other"));
        for (int i = 0; i < 4; i++) {
            Files.writeString(share.resolve("b" + i), "");
            Files.writeString(other.resolve("b" + i), "");
        }
        try (FuseDriver a = new FuseDriver(FsConfig.of(share).withBudget(budget), 1);
             FuseDriver b = new FuseDriver(FsConfig.of(other).withBudget(budget), 2)) {
            a.init();
            b.init();
            Entry a0 = a.lookup(ROOT, "b0");
            a.lookup(ROOT, "b1");
            long fh = b.open(b.lookup(ROOT, "b0").nodeid(), 0);
            assertEquals(0, budget.left(), "two inodes of one server, an inode and an open file of the other");
            assertEquals(-Errno.ENFILE, a.lookupReply(ROOT, "b2").error(), "the other server spent the rest");
            assertEquals(-Errno.EMFILE, b.openReply(b.lookup(ROOT, "b0").nodeid(), 0).error(), "a handle needs a descriptor too");
            a.forget(a0.nodeid(), 1);
            assertEquals(1, budget.left(), "a forgotten inode gives its descriptor back");
            ok(b.releaseReply(fh));
            assertEquals(2, budget.left());
        }
        assertEquals(4, budget.left(), "closed servers give everything back");
    }

    @Test
    void openHandlesBeyondTheLimitAreEmfile() throws Exception {
        Files.writeString(share.resolve("f"), "x");
        long node = fuse.lookup(ROOT, "f").nodeid();
        long fds = fdCount();
        long a = fuse.open(node, 0);
        long b = fuse.opendir(ROOT);
        fuse.open(node, 0);
        assertEquals(-Errno.EMFILE, fuse.openReply(node, 0).error());
        assertEquals(-Errno.EMFILE, fuse.call(FUSE_OPENDIR, ROOT, 64, new byte[8]).error());
        assertEquals(-Errno.EMFILE, fuse.call(FUSE_CREATE, ROOT, 4096, struct(16, x -> x.putInt(2).putInt(0644)),
                FuseWire.cstr("new")).error());
        assertFalse(Files.exists(share.resolve("new")));
        assertEquals(3, fuse.server.openHandleCount());
        assertEquals(fds + 3, fdCount());
        ok(fuse.releaseReply(a));
        ok(fuse.releasedirReply(b));
        FuseDriver.Created c = fuse.create(ROOT, "new", 2, 0644);
        assertEquals(2, fuse.server.openHandleCount());
        ok(fuse.releaseReply(c.fh()));
    }

    @Test
    void configurationIsValidated() {
        assertThrows(IllegalArgumentException.class, () -> FsConfig.of(Path.of("relative")));
        assertThrows(IllegalArgumentException.class, () -> FsConfig.of(share).withLimits(0, 1));
        assertThrows(IllegalArgumentException.class, () -> FsConfig.of(share).withLimits(1, -1));
        assertThrows(IllegalArgumentException.class, () -> FsConfig.of(share).withMaxWrite(1000));
        assertThrows(IllegalArgumentException.class, () -> FsConfig.of(share).withMaxWrite(1 << 25));
        assertThrows(RuntimeException.class, () -> new FuseServer(FsConfig.of(share.resolve("missing"))));
        assertEquals(CacheMode.AUTO, FsConfig.of(share).cache());
    }

    @Test
    void maxWriteIsAdvertisedAndEnforced() throws Exception {
        try (FuseDriver small = new FuseDriver(FsConfig.of(share).withMaxWrite(8192), 5)) {
            var p = ok(small.init(36, -1)).payload();
            assertEquals(8192, p.getInt(20));
            assertEquals(2, p.getShort(28));
            FuseDriver.Created c = small.create(ROOT, "w", 2, 0644);
            assertEquals(-Errno.EINVAL, small.writeReply(c.fh(), 0, new byte[8193]).error());
            assertEquals(8192, small.write(c.fh(), 0, new byte[8192]));
            assertEquals(8192, ok(small.readReply(c.fh(), 0, 100_000, 200_000)).payloadSize(), "reads capped too");
        }
    }
}
