package dev.kava.hypervisor.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.VmConfig;
import dev.kava.linux.Mounts;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * kava's virtio-fs server under a real Linux guest: one microvm (the kava guest kernel, QEMU
 * TCG here) with three shares served through the qemu plugin's {@code Device.SharedFs}
 * VIRTIO_FS, one per cache mode, runs {@code vfs-test.sh} (busybox plus {@code fstool.c},
 * compiled here) once; each test below checks one part of what it reported. Host-side changes
 * for the cache-mode checks are made when the guest asks, over the virtio-serial port.
 */
@Tag("vm")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VirtioFsGuestTest {
    private static final long BIG = 256L << 20;
    private static final int ENTRIES = 10_000;
    private static final Duration RUN = Duration.ofSeconds(170);

    @TempDir
    static Path tmp;
    private Path shares;
    private Path auto;
    private Path volume;
    private Path canary;
    private String mark;
    private Map<String, Object> canaryBefore;
    private List<String> tmpBefore;
    private String bigMd5;
    private String manyMd5;

    /** What the guest reported: check name to null (ok) or the failure; values; lines in order. */
    private final Map<String, String> checks = new LinkedHashMap<>();
    private final Map<String, String> values = new LinkedHashMap<>();
    private final List<String> transcript = new ArrayList<>();
    private String console = "";
    private boolean guestFinished;
    private List<String> leftAfterStop = List.of();
    private long requestsServed;

    @BeforeAll
    void runTheGuest() throws Exception {
        TestGuest.assumeGuestsCanRun("VirtioFsGuestTest");
        String gcc = Files.isExecutable(Path.of("/usr/bin/gcc")) ? null : "gcc missing: apt-get install gcc";
        if (gcc != null) System.out.println("SKIPPED VirtioFsGuestTest: " + gcc);
        assumeTrue(gcc == null, gcc);

        shares = Files.createDirectories(tmp.resolve("shares"));
        Map<String, Device.SharedFs.Cache> modes = Map.of("none", Device.SharedFs.Cache.NONE,
                "auto", Device.SharedFs.Cache.AUTO, "always", Device.SharedFs.Cache.ALWAYS);
        for (String m : modes.keySet()) {
            Path d = Files.createDirectories(shares.resolve(m));
            Files.writeString(d.resolve("c"), "v1\n");
            Files.writeString(Files.createDirectories(d.resolve("cdir")).resolve("old"), "");
        }
        auto = shares.resolve("auto");
        prepareAutoShare();
        prepareCanary();

        Path fstool = compileFstool();
        Path script = Files.writeString(tmp.resolve("vfs-test.sh"), resource("vfs-test.sh")
                .replace("@CANARY@", canary.toString()).replace("@MARK@", mark));
        Path image = TestGuest.buildImage(Files.createDirectories(tmp.resolve("image")), INIT,
                Map.of("bin/fstool", fstool, "sbin/vfs-test.sh", script), 24);

        tmpBefore = listing(tmp);
        ShareLeftovers.warmUpJdkPollers(tmp);
        var fdsBefore = ShareLeftovers.descriptors();
        long t0 = System.nanoTime();
        Path state = Files.createDirectories(tmp.resolve("state"));
        Path consoleLog = tmp.resolve("console.log");
        try (QemuHypervisor hv = (QemuHypervisor) new QemuProvider().create("vfs", state)) {
            hv.prepare(new VmConfig(2, 512, TestGuest.kernel(), image, List.of(), consoleLog, false));
            for (var m : modes.entrySet()) {
                hv.addDevice(new Device.SharedFs("v" + m.getKey(), shares.resolve(m.getKey()), Device.SharedFs.Kind.VIRTIO_FS, m.getValue()));
            }
            hv.start(Duration.ofSeconds(20));
            try (SerialConnection serial = new SerialConnection(hv.agentEndpoint())) {
                converse(serial, System.nanoTime() + RUN.toNanos());
            }
            requestsServed = hv.virtioFsRequests();
            if (guestFinished) {
                hv.exited().get(30, TimeUnit.SECONDS); // the init reboots: QEMU exits by itself
            }
            hv.stop(Duration.ofSeconds(5));
            console = Files.exists(consoleLog) ? Files.readString(consoleLog, StandardCharsets.ISO_8859_1) : "";
        }
        System.out.printf("virtio-fs guest run: %d ms, %d FUSE requests; values %s%n",
                (System.nanoTime() - t0) / 1_000_000, requestsServed, values);
        leftAfterStop = ShareLeftovers.after(fdsBefore, state, tmp);
    }

    /** The init: mounts, finds the agent.0 port, runs the script with the port on fd 3, reboots. */
    private static final String INIT = TestGuest.PREAMBLE + """
            mkdir /mnt/none /mnt/auto /mnt/always
            ok=1
            for m in none auto always; do
              mount -t virtiofs v$m /mnt/$m || { echo "FAIL mount-$m: mount -t virtiofs v$m failed" >&3; ok=0; }
            done
            [ $ok = 1 ] && echo "ok mount" >&3 && /bin/sh /sbin/vfs-test.sh
            echo DONE >&3
            for m in none auto always; do umount /mnt/$m; done
            reboot -f
            """;

    private void converse(SerialConnection serial, long deadline) throws Exception {
        while (System.nanoTime() < deadline) {
            String line = serial.readLine(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            if (line == null) {
                break;
            }
            transcript.add(line);
            if (line.equals("DONE")) {
                guestFinished = true;
                return;
            } else if (line.equals("HOST-CHANGE")) {
                for (String m : List.of("none", "auto", "always")) {
                    Path d = shares.resolve(m);
                    Files.writeString(d.resolve("c"), "v2-longer\n");
                    Files.setLastModifiedTime(d.resolve("c"), FileTime.fromMillis(System.currentTimeMillis() + 5000));
                    Files.writeString(d.resolve("cdir").resolve("new"), "");
                }
                serial.writeLine("go");
            } else if (line.startsWith("ok ")) {
                checks.put(line.substring(3), null);
            } else if (line.startsWith("FAIL ")) {
                int colon = line.indexOf(':');
                checks.put(line.substring(5, colon < 0 ? line.length() : colon), line);
            } else if (line.startsWith("VALUE ")) {
                String[] kv = line.substring(6).split(" ", 2);
                values.put(kv[0], kv.length > 1 ? kv[1] : "");
            }
        }
    }

    // ---------------------------------------------------------------- host preparation

    private void prepareAutoShare() throws Exception {
        Files.writeString(auto.resolve("from-host"), "host-wrote-this");
        try (FileChannel f = FileChannel.open(auto.resolve("sparse-from-host"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] d = new byte[4096];
            java.util.Arrays.fill(d, (byte) 'D');
            f.write(ByteBuffer.wrap(d), 0);
            f.write(ByteBuffer.wrap(d), 1 << 20);
        }
        try (var raf = new java.io.RandomAccessFile(auto.resolve("sparse-from-host").toFile(), "rw")) {
            raf.setLength(2 << 20); // ftruncate: the rest is a hole
        }
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        try (OutputStream out = Files.newOutputStream(auto.resolve("big"))) {
            SplittableRandom random = new SplittableRandom(256);
            byte[] chunk = new byte[1 << 20];
            ByteBuffer b = ByteBuffer.wrap(chunk);
            for (long written = 0; written < BIG; written += chunk.length) {
                b.clear();
                while (b.hasRemaining()) {
                    b.putLong(random.nextLong());
                }
                md5.update(chunk);
                out.write(chunk);
            }
        }
        bigMd5 = HexFormat.of().formatHex(md5.digest());
        Path many = Files.createDirectories(auto.resolve("many"));
        StringBuilder names = new StringBuilder();
        for (int i = 0; i < ENTRIES; i++) {
            String n = String.format("e%05d", i);
            Files.createFile(many.resolve(n));
            names.append(n).append('\n');
        }
        manyMd5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(names.toString().getBytes(StandardCharsets.UTF_8)));
        // a volume bind-mounted inside the share, as the runtime mounts container root file systems and volumes
        volume = Files.createDirectories(tmp.resolve("volume"));
        Files.writeString(volume.resolve("from-host"), "from-the-volume");
        Path sub = Files.createDirectories(auto.resolve("sub"));
        Mounts.mount(volume.toString(), sub.toString(), null, Mounts.MS_BIND, null);
    }

    private void prepareCanary() throws Exception {
        mark = "CANARY-" + UUID.randomUUID();
        canary = Files.writeString(tmp.resolve("canary"), mark + "\n");
        Files.setPosixFilePermissions(canary, PosixFilePermissions.fromString("rw-------"));
        Files.setLastModifiedTime(canary, FileTime.fromMillis(1_000_000_000_000L));
        Path esc = Files.createDirectories(auto.resolve("esc"));
        Files.createSymbolicLink(esc.resolve("abs"), canary);
        Files.createSymbolicLink(esc.resolve("rel"), Path.of("../../../canary"));
        Files.createSymbolicLink(esc.resolve("procroot"), Path.of("/proc/self/root" + canary));
        Files.createSymbolicLink(esc.resolve("proc1root"), Path.of("/proc/1/root" + canary));
        Files.createSymbolicLink(esc.resolve("procfd"), Path.of("/proc/self/fd/7"));
        Files.createSymbolicLink(esc.resolve("dotdot"), Path.of(".."));
        assertEquals(mark + "\n", Files.readString(esc.resolve("rel")), "the relative link really climbs out on the host");
        canaryBefore = canaryState();
    }

    private Map<String, Object> canaryState() throws IOException {
        Map<String, Object> s = new LinkedHashMap<>(Files.readAttributes(canary, "unix:*", LinkOption.NOFOLLOW_LINKS));
        s.put("content", Files.readString(canary));
        s.put("xattrs", xattrNames(canary));
        return s;
    }

    private static List<String> xattrNames(Path p) {
        try {
            var view = Files.getFileAttributeView(p, java.nio.file.attribute.UserDefinedFileAttributeView.class);
            return view == null ? List.of() : view.list();
        } catch (IOException e) {
            return List.of("(" + e.getMessage() + ")");
        }
    }

    private static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private Path compileFstool() throws Exception {
        Path src = Files.writeString(tmp.resolve("fstool.c"), resource("fstool.c"));
        Path bin = tmp.resolve("fstool");
        Process gcc = new ProcessBuilder("gcc", "-static", "-O2", "-o", bin.toString(), src.toString()).redirectErrorStream(true).start();
        String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, gcc.waitFor(), "gcc fstool.c: " + out);
        return bin;
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = VirtioFsGuestTest.class.getResourceAsStream(name)) {
            assertNotNull(in, name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @AfterAll
    void unmountTheVolume() {
        if (auto != null && Mounts.isMountPoint(auto.resolve("sub").toString())) {
            Mounts.umount(auto.resolve("sub").toString(), Mounts.MNT_DETACH);
        }
    }

    // ---------------------------------------------------------------- the checks

    private void assertChecks(String... names) {
        assertTrue(guestFinished, () -> "the guest script did not finish; transcript:\n" + String.join("\n", transcript)
                + "\n--- console ---\n" + console);
        List<String> problems = new ArrayList<>();
        for (String n : names) {
            if (!checks.containsKey(n)) problems.add(n + ": not reported");
            else if (checks.get(n) != null) problems.add(checks.get(n));
        }
        assertEquals(List.of(), problems, () -> "transcript:\n" + String.join("\n", transcript));
    }

    @Test
    void nothingFailedInTheGuest() {
        assertChecks("mount", "files-done", "escapes-done");
        List<String> failed = checks.values().stream().filter(v -> v != null).toList();
        assertEquals(List.of(), failed);
        assertTrue(requestsServed > ENTRIES, "FUSE requests served: " + requestsServed);
    }

    @Test
    void filesDirectoriesLinksAndMetadata() throws IOException {
        assertChecks("create-read", "append", "overwrite-in-place", "truncate-shrink", "truncate-grow", "truncate-grow-zeros",
                "create-empty", "mkdir", "rmdir", "rmdir-not-empty", "unlink-and-rmdir", "rename-over-existing",
                "rename-source-gone", "rename-across-directories", "rename-directory", "rename-exchange", "hardlink-count",
                "hardlink-same-inode", "hardlink-shared-data", "hardlink-count-after-unlink", "symlink-readlink",
                "symlink-followed", "symlink-dangling", "symlink-type", "chmod", "chmod-setuid", "chown", "chown-clears-setuid",
                "lchown-changes-the-link-only", "utimes-mtime", "utimes-atime", "lutimes-changes-the-link-only", "fallocate", "statfs");
        // what the guest did is on the host
        Path t = auto.resolve("t");
        assertEquals("new\n", Files.readString(t.resolve("r2")));
        assertEquals(1234, Files.getAttribute(t.resolve("h2"), "unix:uid"));
        assertEquals(5678, Files.getAttribute(t.resolve("h2"), "unix:gid"));
        assertEquals(981173106000L, Files.getLastModifiedTime(t.resolve("h2")).toMillis());
        assertEquals(Path.of("/no/such/target"), Files.readSymbolicLink(t.resolve("s2")));
        assertEquals(4321, Files.getAttribute(t.resolve("s1"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void extendedAttributes() throws IOException {
        assertChecks("xattr-set-get", "xattr-list", "xattr-remove");
        var view = Files.getFileAttributeView(auto.resolve("t/h2"), java.nio.file.attribute.UserDefinedFileAttributeView.class);
        assertEquals(List.of("other"), view.list(), "user.other is on the host file, user.kava was removed");
    }

    @Test
    void mmapReadsAndWritesAndSharedMappingsNeedACache() throws IOException {
        assertChecks("mmap-write", "mmap-read", "mmap-shared-refused-with-cache-none");
        byte[] m = Files.readAllBytes(auto.resolve("t/m"));
        assertEquals("written-through-mmap", new String(m, 100, 20, StandardCharsets.UTF_8));
    }

    @Test
    void sparseFilesKeepTheirHolesBothWays() throws IOException {
        assertChecks("sparse-seek-data-hole", "sparse-host-file");
        Path sp = auto.resolve("t/sp");
        assertEquals(2L << 20, Files.size(sp));
        long blocks;
        try (dev.kava.linux.Fd fd = dev.kava.linux.Fd.open(sp.toString(), dev.kava.linux.OpenFlags.O_RDONLY
                | dev.kava.linux.OpenFlags.O_CLOEXEC, 0)) {
            blocks = dev.kava.linux.FileSystem.stat(fd).blocks();
        }
        assertTrue(blocks * 512 < (1L << 20), "the guest's sparse file is sparse on the host: " + blocks + " blocks");
    }

    @Test
    void aDirectoryOf10000EntriesIsListedCompletely() {
        assertChecks("big-directory-ls", "big-directory-find");
        assertEquals(manyMd5, values.get("big-directory-md5"), "every name, in order");
    }

    @Test
    void fourConcurrentWritersToDifferentFiles() throws IOException {
        assertChecks("concurrent-writers");
        for (int i = 1; i <= 4; i++) {
            byte[] data = Files.readAllBytes(auto.resolve("t/w" + i));
            assertEquals(4 << 20, data.length);
            String line = "writer-" + i + "\n";
            String text = new String(data, StandardCharsets.US_ASCII);
            for (int at = 0; at + line.length() <= text.length(); at += line.length()) {
                if (!text.startsWith(line, at)) throw new AssertionError("w" + i + " is corrupt at byte " + at);
            }
        }
    }

    @Test
    void a256MiBFileIsCopiedByteExact() throws Exception {
        assertChecks("big-copy");
        assertEquals(bigMd5, values.get("big-md5"), "the guest read the host file exactly");
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        try (InputStream in = Files.newInputStream(auto.resolve("t/big.copy"))) {
            byte[] b = new byte[1 << 20];
            for (int n; (n = in.read(b)) > 0; ) md5.update(b, 0, n);
        }
        assertEquals(bigMd5, HexFormat.of().formatHex(md5.digest()), "the guest's copy reached the host exactly");
        assertEquals(BIG, Files.size(auto.resolve("t/big.copy")));
    }

    @Test
    void mountsInsideTheShareAreServed() throws IOException {
        assertChecks("submount-read", "submount-write");
        assertEquals("from-guest\n", Files.readString(volume.resolve("from-guest")), "the write reached the volume itself");
    }

    @Test
    void eachCacheModeKeepsItsPromiseAboutHostChanges() {
        // none: every change at once; auto: within its 1 s timeout; always: data and attributes the
        // guest has cached stay stale (until the guest drops them), names it never looked up are found
        assertChecks("cache-always-before", "cache-none-data-at-once", "cache-none-size-at-once", "cache-none-listing-at-once",
                "cache-always-data-stale", "cache-always-new-name-found",
                "cache-auto-data-after-timeout", "cache-auto-listing", "cache-always-fresh-after-drop-caches");
    }

    @Test
    void nothingTheGuestDoesReachesTheCanaryOutsideTheShare() throws IOException {
        assertChecks("escape-absolute-link-resolved-in-the-guest", "escape-no-char-device", "escape-no-block-device",
                "escape-rename-race", "escapes-done");
        List<String> leaks = transcript.stream().filter(l -> l.startsWith("FAIL escape-")).toList();
        assertEquals(List.of(), leaks);
        assertEquals(canaryBefore, canaryState(), "content, mode, owner, times, link count and xattrs of the canary");
        assertEquals(tmpBefore, listing(tmp).stream().filter(n -> !n.equals("console.log") && !n.equals("state")).toList(),
                "nothing appeared next to the canary");
        Path esc = auto.resolve("esc");
        assertFalse(Files.exists(esc.resolve("mem"), LinkOption.NOFOLLOW_LINKS), "no device node was made");
        assertFalse(Files.exists(esc.resolve("vda"), LinkOption.NOFOLLOW_LINKS));
        assertEquals(canary, Files.readSymbolicLink(esc.resolve("abs")), "the planted link is untouched");
        for (String l : List.of("abs.hard", "rel.hard")) {
            if (Files.exists(esc.resolve(l), LinkOption.NOFOLLOW_LINKS)) {
                assertTrue(Files.isSymbolicLink(esc.resolve(l)), l + ": a hard link of a symlink is a symlink, not the canary");
            }
        }
        try (Stream<Path> all = Files.walk(shares)) {
            List<Path> linkedToCanary = all.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).filter(p -> {
                try {
                    return Files.isSameFile(p, canary);
                } catch (IOException e) {
                    return false;
                }
            }).toList();
            assertEquals(List.of(), linkedToCanary, "no hard link to the canary inside the shares");
        }
        assertTrue(new TreeSet<>(listing(esc)).containsAll(List.of("abs", "rel", "procroot", "proc1root", "procfd", "dotdot")));
        // the rename race swapped real host entries: still one directory and the two links, their targets unchanged
        Path race = esc.resolve("race");
        List<String> targets = new ArrayList<>();
        for (String n : List.of("dir", "abs", "rel")) {
            Path p = race.resolve(n);
            targets.add(Files.isSymbolicLink(p) ? Files.readSymbolicLink(p).toString() : Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "a directory" : "?");
        }
        assertEquals(new TreeSet<>(List.of("a directory", canary.getParent().toString(), "../../../..")), new TreeSet<>(targets),
                "after the race: " + targets);
    }

    @Test
    void stoppingTheVmLeavesNoThreadDescriptorMappingOrSocket() {
        assertTrue(guestFinished || !transcript.isEmpty(), "the guest ran");
        assertEquals(List.of(), leftAfterStop);
    }
}
