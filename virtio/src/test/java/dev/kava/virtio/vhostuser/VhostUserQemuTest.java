package dev.kava.virtio.vhostuser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backend against real QEMU (7.2, TCG): a microvm guest with the kava guest kernel mounts a
 * vhost-user-fs device served by {@link MinimalVirtioFsDevice}, prints the outcome on its serial
 * console and powers off. Proves the negotiation, the memory table, the rings, the eventfds and
 * the clean-up with the front-end this backend is for.
 *
 * <p>The guest kernel has no initramfs support (no CONFIG_BLK_DEV_INITRD), so the tiny root is a
 * 16 MiB ext4 image made with {@code mkfs.ext4 -d} from static busybox and a shell init.
 */
@Tag("vm")
class VhostUserQemuTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    private static final Path KERNEL = Path.of("/var/cache/kava/current/bzImage");
    private static final Path BUSYBOX = Path.of("/bin/busybox");
    private static final String TAG = "kavatest";

    private static final String INIT = """
            #!/bin/sh
            export PATH=/bin
            mount -t proc proc /proc
            echo "KAVA-INIT up"
            if mount -t virtiofs %1$s /mnt; then
              echo "KAVA-MOUNT-OK"
              stat -c 'KAVA-STAT %%i %%a %%F' /mnt
              ls /mnt >/dev/null 2>&1; echo "KAVA-LS rc=$?"
              umount /mnt && echo "KAVA-UMOUNT-OK"
            else
              echo "KAVA-MOUNT-FAILED rc=$?"
            fi
            reboot -f
            """.formatted(TAG);

    @TempDir
    Path dir;

    /** Why this host cannot run the test, or null. */
    private static String hostProblem() {
        if (!Files.isExecutable(QEMU)) return QEMU + " missing: apt-get install qemu-system-x86";
        if (!Files.isRegularFile(KERNEL)) return KERNEL + " missing: build the guest kernel (guest/scripts/build-kernel.sh)";
        if (!Files.isExecutable(BUSYBOX)) return BUSYBOX + " missing: apt-get install busybox-static";
        if (mkfs() == null) return "mkfs.ext4 missing: apt-get install e2fsprogs";
        return null;
    }

    private static Path mkfs() {
        for (String d : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            if (Files.isExecutable(Path.of(d, "mkfs.ext4"))) return Path.of(d, "mkfs.ext4");
        }
        return null;
    }

    /** The host TSC in kHz, which a microvm guest under TCG needs as tsc_early_khz. */
    private static long tscKhz() throws IOException {
        Matcher m = Pattern.compile("(?m)^cpu MHz\\s*:\\s*([0-9.]+)").matcher(Files.readString(Path.of("/proc/cpuinfo")));
        return m.find() ? Math.round(Double.parseDouble(m.group(1)) * 1000) : 0;
    }

    private Path rootImage() throws IOException, InterruptedException {
        Path root = dir.resolve("root");
        Path bin = Files.createDirectories(root.resolve("bin"));
        for (String d : List.of("sbin", "proc", "sys", "dev", "mnt")) Files.createDirectories(root.resolve(d));
        Files.copy(BUSYBOX, bin.resolve("busybox"));
        for (String applet : List.of("sh", "mount", "umount", "stat", "ls", "reboot", "echo")) {
            Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
        }
        Path init = root.resolve("sbin/init");
        Files.writeString(init, INIT);
        Files.setPosixFilePermissions(init, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path image = dir.resolve("root.ext4");
        Process p = new ProcessBuilder(mkfs().toString(), "-q", "-d", root.toString(), image.toString(), "16M")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "mkfs.ext4: " + out);
        return image;
    }

    private static boolean backendThreadAlive() {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("vhost-user ") && t.isAlive());
    }

    /** Collects the backend's TRACE log of received messages (what QEMU sent, with flags, sizes, fds). */
    private static final class Wire extends Handler {
        final List<String> messages = new CopyOnWriteArrayList<>();

        @Override
        public void publish(LogRecord r) {
            if (r.getMessage() != null && r.getMessage().startsWith("received ")) {
                messages.add(r.getMessage().substring("received ".length()));
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }

    /**
     * {@code modern}: QEMU's virtio-mmio devices are legacy (virtio 0.9.5, mmio version 1) unless
     * {@code virtio-mmio.force-legacy=false}; the project's QEMU command line leaves the default,
     * a VMM of our own will be modern. Both must work.
     */
    @ParameterizedTest(name = "modern virtio-mmio: {0}")
    @ValueSource(booleans = {false, true})
    void qemuMountsAVirtioFsDeviceServedByTheBackend(boolean modern) throws Exception {
        String problem = hostProblem();
        if (problem != null) System.out.println("SKIPPED VhostUserQemuTest: " + problem);
        assumeTrue(problem == null, problem);
        Path image = rootImage();
        Path socket = dir.resolve("fs.sock");
        Path console = dir.resolve("console.log");

        Logger wireLog = Logger.getLogger(VhostUserBackend.class.getName());
        Wire wire = new Wire();
        Level oldLevel = wireLog.getLevel();
        wireLog.setLevel(Level.FINEST);
        wireLog.addHandler(wire);

        var fdsBefore = OpenFiles.descriptors();
        var mappingsBefore = OpenFiles.memfdMappings();
        VhostUserBackendTest.Events events = new VhostUserBackendTest.Events();
        MinimalVirtioFsDevice device = new MinimalVirtioFsDevice(TAG);
        long t0 = System.nanoTime();
        Process qemu = null;
        String consoleText;
        try (VhostUserBackend backend = VhostUserBackend.start(device, VhostUserBackend.Config.of(socket)
                .withObserver(events).withOnDisconnect(VhostUserBackend.OnDisconnect.STOP))) {
            long khz = tscKhz();
            String append = "console=ttyS0 reboot=t panic=-1 root=/dev/vda ro rootfstype=ext4 no_timer_check"
                    + (khz > 0 ? " tsc_early_khz=" + khz : "") + " tsc=reliable";
            List<String> argv = new ArrayList<>(List.of(QEMU.toString(),
                    "-name", "kava-vhost-user-test",
                    "-M", "microvm,acpi=off,rtc=on,isa-serial=on,memory-backend=mem",
                    "-accel", "tcg,thread=multi,tb-size=64", "-cpu", "max",
                    "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                    "-global", "virtio-mmio.force-legacy=" + (modern ? "false" : "true"),
                    "-smp", "1", "-m", "256M",
                    "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
                    "-kernel", KERNEL.toString(), "-append", append,
                    "-chardev", "file,id=console,path=" + console, "-serial", "chardev:console",
                    "-drive", "file=" + image + ",if=none,id=root,format=raw,readonly=on",
                    "-device", "virtio-blk-device,drive=root",
                    "-chardev", "socket,id=vu,path=" + socket,
                    "-device", "vhost-user-fs-device,chardev=vu,tag=" + TAG));
            qemu = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(dir.resolve("qemu.log").toFile()).start();
            boolean exited = qemu.waitFor(30, TimeUnit.SECONDS);
            consoleText = Files.exists(console) ? Files.readString(console) : "";
            String qemuLog = Files.readString(dir.resolve("qemu.log"));
            assertTrue(exited, "QEMU did not power off within 30 s; console:\n" + consoleText + "\nqemu:\n" + qemuLog);
            assertEquals(0, qemu.exitValue(), "qemu:\n" + qemuLog);
            String reason = events.awaitDisconnect();
            assertTrue(backend.awaitStopped(Duration.ofSeconds(5)), "STOP after QEMU left");
            System.out.printf("QEMU ran %d ms; backend saw disconnect: %s%n", (System.nanoTime() - t0) / 1_000_000, reason);
            System.out.println("QEMU sent: " + String.join(", ", wire.messages));
            System.out.println("memory table as mapped: " + device.regionsSeen);
            System.out.println("features acknowledged: 0x" + Long.toHexString(device.acknowledged)
                    + " of 0x" + Long.toHexString(VhostUserBackend.offeredFeatures(device)));
            System.out.println("FUSE requests: " + device.requests);
            System.out.println("console:\n" + consoleText);
        } finally {
            if (qemu != null && qemu.isAlive()) {
                qemu.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            wireLog.removeHandler(wire);
            wireLog.setLevel(oldLevel);
        }

        // the negotiation QEMU did
        List<VhostUserRequest> seen = events.handled;
        assertEquals(List.of(), events.refused, "nothing QEMU asked was refused");
        for (VhostUserRequest r : List.of(VhostUserRequest.GET_FEATURES, VhostUserRequest.GET_PROTOCOL_FEATURES,
                VhostUserRequest.SET_PROTOCOL_FEATURES, VhostUserRequest.SET_OWNER, VhostUserRequest.SET_FEATURES,
                VhostUserRequest.SET_MEM_TABLE, VhostUserRequest.SET_VRING_NUM, VhostUserRequest.SET_VRING_BASE,
                VhostUserRequest.SET_VRING_ADDR, VhostUserRequest.SET_VRING_KICK, VhostUserRequest.SET_VRING_CALL,
                VhostUserRequest.GET_VRING_BASE)) {
            assertTrue(seen.contains(r), r + " in " + seen);
        }
        assertTrue(seen.indexOf(VhostUserRequest.GET_FEATURES) < seen.indexOf(VhostUserRequest.SET_FEATURES));
        assertTrue(seen.indexOf(VhostUserRequest.SET_MEM_TABLE) < seen.indexOf(VhostUserRequest.SET_VRING_KICK));
        assertTrue(seen.lastIndexOf(VhostUserRequest.SET_VRING_KICK) < seen.lastIndexOf(VhostUserRequest.GET_VRING_BASE),
                "GET_VRING_BASE at shutdown");
        assertTrue(wire.messages.stream().anyMatch(m -> m.startsWith("SET_MEM_TABLE") && !m.contains(", 0 fds")),
                "the memory table came with its fds: " + wire.messages);
        long offered = VhostUserBackend.offeredFeatures(device);
        assertEquals(0, device.acknowledged & ~offered, "QEMU acknowledged only offered features");
        assertTrue((device.acknowledged & (1L << VhostUserBackend.F_PROTOCOL_FEATURES)) != 0, "protocol features acknowledged");
        assertEquals(modern, (device.acknowledged & (1L << VhostUserBackend.VIRTIO_F_VERSION_1)) != 0,
                "VIRTIO_F_VERSION_1 is negotiated exactly when the transport is modern");
        assertFalse(device.regionsSeen.isEmpty());
        assertEquals(0, device.regionsSeen.getFirst().guestAddress());

        // the guest's FUSE_INIT, as the Linux virtio-fs driver sends it
        MinimalVirtioFsDevice.InHeader init = device.requests.getFirst();
        assertEquals(MinimalVirtioFsDevice.FUSE_INIT, init.opcode());
        assertEquals(MinimalVirtioFsDevice.IN_HEADER + 64, init.len(), "fuse_in_header + fuse_init_in");
        assertEquals(0, init.nodeid());
        assertNotEquals(0, init.unique());
        assertEquals(7, device.inits.getFirst().major());
        assertTrue(device.inits.getFirst().minor() >= 31, "minor " + device.inits.getFirst().minor());
        assertTrue(device.queuesHandled.contains(1), "the request queue was kicked");
        assertTrue(device.requests.stream().anyMatch(r -> r.opcode() == MinimalVirtioFsDevice.FUSE_GETATTR && r.nodeid() == 1));

        // the guest's view
        assertTrue(consoleText.contains("KAVA-MOUNT-OK"), consoleText);
        assertTrue(consoleText.contains("KAVA-STAT 1 755 directory"), consoleText);

        // nothing of the backend is left
        assertFalse(backendThreadAlive(), "backend thread ended");
        OpenFiles.assertNoneAdded(fdsBefore, OpenFiles.descriptors(), "descriptors");
        OpenFiles.assertNoneAdded(mappingsBefore, OpenFiles.memfdMappings(), "mappings of guest RAM");
        assertFalse(Files.exists(socket));
    }
}
