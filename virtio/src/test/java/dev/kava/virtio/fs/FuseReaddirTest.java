package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseDriver.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Errno;
import dev.kava.virtio.fs.FuseWire.Dirent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** READDIR and READDIRPLUS: complete listings, exact resumption, 8-byte records, bounded lookups. */
class FuseReaddirTest extends FuseTestSupport {
    @Override
    FsConfig config(Path share) {
        return FsConfig.of(share).withLimits(12_000, 64);
    }

    private static String name(int i) {
        return "entry-" + i + "-" + "n".repeat(i % 61);
    }

    @Test
    void tenThousandEntriesAreListedCompletelyByReaddirplusInSmallBuffers() throws Exception {
        Path dir = Files.createDirectory(share.resolve("big"));
        Set<String> expected = new HashSet<>(List.of(".", ".."));
        for (int i = 0; i < 10_000; i++) {
            Files.writeString(dir.resolve(name(i)), Integer.toString(i));
            expected.add(name(i));
        }
        long fds = fdCount();
        long start = System.nanoTime();
        long dirNode = fuse.lookup(ROOT, "big").nodeid();
        long fh = fuse.opendir(dirNode);
        Set<String> seen = new HashSet<>();
        long offset = 0;
        int calls = 0;
        while (true) {
            int size = 224 + fuse.random.nextInt(1800); // from one entry (the longest is 224 bytes) to a dozen
            List<Dirent> batch = fuse.readdir(fh, offset, size, true);
            calls++;
            if (batch.isEmpty()) {
                break;
            }
            for (Dirent d : batch) {
                assertTrue(seen.add(d.name()), "listed twice: " + d.name());
                if (d.name().equals(".") || d.name().equals("..")) {
                    assertEquals(0, d.entry().nodeid(), "no lookup for dot entries");
                } else {
                    assertNotEquals(0, d.entry().nodeid());
                    assertEquals(d.ino(), d.entry().attr().ino());
                    assertEquals(0100000, d.entry().attr().type());
                    assertEquals(8, d.type(), "DT_REG");
                    String n = d.name().substring("entry-".length(), d.name().indexOf('-', 6));
                    assertEquals(n.length(), d.entry().attr().size());
                    fuse.forget(d.entry().nodeid(), 1); // as the guest kernel would, eventually
                }
                assertEquals(0, d.recordLength() % 8);
            }
            offset = batch.get(batch.size() - 1).off();
        }
        ok(fuse.releasedirReply(fh));
        long millis = (System.nanoTime() - start) / 1_000_000;
        System.out.println("10,000 entries by READDIRPLUS in " + calls + " calls: " + millis + " ms");
        assertEquals(expected, seen);
        assertEquals(2, fuse.server.inodeCount(), "every lookup was forgotten (root and big remain)");
        assertEquals(fds + 1, fdCount(), "only big's own descriptor is left");
    }

    @Test
    void everyOffsetResumesRightAfterItsEntry() throws Exception {
        for (int i = 0; i < 40; i++) {
            Files.createFile(share.resolve(name(i)));
        }
        long fh = fuse.opendir(ROOT);
        List<Dirent> all = fuse.readdir(fh, 0, 64 * 1024, false);
        assertEquals(42, all.size());
        for (int k = 0; k < all.size(); k++) {
            List<Dirent> rest = fuse.readdir(fh, all.get(k).off(), 64 * 1024, false);
            assertEquals(all.subList(k + 1, all.size()).stream().map(Dirent::name).toList(),
                    rest.stream().map(Dirent::name).toList());
            assertNull(rest.isEmpty() ? null : rest.get(0).entry());
        }
        assertEquals(List.of(), fuse.readdir(fh, all.get(all.size() - 1).off(), 4096, false), "end of directory");
    }

    @Test
    void entriesThatDoNotFitStopTheBufferAndAreNotLookedUp() throws Exception {
        Files.writeString(share.resolve("aaaa"), "");
        Files.writeString(share.resolve("bbbb"), "");
        Files.writeString(share.resolve("cccc"), "");
        long fh = fuse.opendir(ROOT);
        // READDIR: "." takes 32 bytes, ".." 32, each 4-letter name 32
        assertEquals(2, fuse.readdir(fh, 0, 64, false).size());
        assertEquals(2, fuse.readdir(fh, 0, 95, false).size());
        assertEquals(-Errno.EINVAL, fuse.readdirReply(fh, 0, 31, false).error(), "not even one entry fits");
        // READDIRPLUS: 160 bytes per entry here; three fit in 480
        int inodes = fuse.server.inodeCount();
        List<Dirent> three = fuse.readdir(fh, 0, 480, true);
        assertEquals(3, three.size());
        long looked = three.stream().filter(d -> d.entry().nodeid() != 0).count();
        assertEquals(inodes + looked, fuse.server.inodeCount(), "only entries that were sent were looked up");
        List<Dirent> rest = fuse.readdir(fh, three.get(2).off(), 4096, true);
        assertEquals(2, rest.size());
        Map<String, Long> nodeids = new HashMap<>();
        for (Dirent d : rest) {
            nodeids.put(d.name(), d.entry().nodeid());
        }
        for (Dirent d : three) {
            nodeids.put(d.name(), d.entry().nodeid());
        }
        assertEquals(fuse.lookup(ROOT, "bbbb").nodeid(), nodeids.get("bbbb"), "READDIRPLUS and LOOKUP agree");
    }

    @Test
    void plainReaddirCarriesTypesAndInodeNumbers() throws Exception {
        Files.createDirectory(share.resolve("sub"));
        Files.createSymbolicLink(share.resolve("lnk"), Path.of("/nowhere"));
        Files.writeString(share.resolve("reg"), "");
        long fh = fuse.opendir(ROOT);
        Map<String, Integer> types = new HashMap<>();
        List<Long> inos = new ArrayList<>();
        for (Dirent d : fuse.readdir(fh, 0, 4096, false)) {
            types.put(d.name(), d.type());
            inos.add(d.ino());
        }
        assertEquals(Map.of(".", 4, "..", 4, "sub", 4, "lnk", 10, "reg", 8), types);
        assertTrue(inos.contains((Long) Files.getAttribute(share.resolve("reg"), "unix:ino")));
        Files.delete(share.resolve("lnk"));
    }
}
