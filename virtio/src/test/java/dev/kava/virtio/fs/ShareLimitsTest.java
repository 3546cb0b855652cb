package dev.kava.virtio.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-share caps and the one descriptor budget of the process, as both plugins apply them. */
class ShareLimitsTest {
    @TempDir
    Path dir;

    /** The soft RLIMIT_NOFILE now in effect, as the kernel reports it. */
    private static long softOpenFileLimit() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                return Long.parseLong(line.substring("Max open files".length()).trim().split("\\s+")[0]);
            }
        }
        throw new AssertionError("no 'Max open files' in /proc/self/limits");
    }

    @Test
    void everyShareGetsTheCapsAndTheOneProcessBudget() throws Exception {
        FsConfig a = ShareLimits.configFor(dir);
        FsConfig b = ShareLimits.configFor(dir.resolve("other"));
        assertEquals(ShareLimits.MAX_INODES, a.maxInodes());
        assertEquals(ShareLimits.MAX_HANDLES, a.maxHandles());
        assertSame(a.budget(), b.budget(), "all shares draw from one budget");
        assertSame(ShareLimits.processBudget(), a.budget());
        assertTrue(a.budget() != DescriptorBudget.UNLIMITED);
        long soft = softOpenFileLimit();
        assertTrue(a.budget().left() <= soft - ShareLimits.RESERVED_FDS,
                "budget " + a.budget().left() + " leaves the reserve below RLIMIT_NOFILE " + soft);
    }

    @Test
    void aServerOnTheProcessBudgetTakesFromItAndGivesBack() throws Exception {
        Files.writeString(dir.resolve("f"), "x");
        DescriptorBudget budget = ShareLimits.processBudget();
        long before = budget.left();
        try (FuseDriver fuse = new FuseDriver(ShareLimits.configFor(dir), 1)) {
            fuse.init();
            long fh = fuse.open(fuse.lookup(FuseTestSupport.ROOT, "f").nodeid(), 0);
            assertEquals(before - 2, budget.left(), "an inode and an open file, drawn from the process budget");
            FuseDriver.ok(fuse.releaseReply(fh));
        }
        assertEquals(before, budget.left(), "a closed server gives everything back");
    }
}
