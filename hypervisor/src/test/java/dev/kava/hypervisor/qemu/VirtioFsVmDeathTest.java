package dev.kava.hypervisor.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.VmConfig;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VM that dies in the middle of virtio-fs requests: QEMU is killed with SIGKILL while its guest
 * streams reads, writes and listings through a share kava serves. This process must survive it,
 * release everything the share held (threads, descriptors, the guest-memory mapping, the socket),
 * and serve the same host directory to the next VM, whose guest then reads it intact.
 */
@Tag("vm")
class VirtioFsVmDeathTest {
    private static final long BIG = 32L << 20;

    @TempDir
    Path tmp;

    /** Mounts the share, says "ready", then does what the host asks: "stream" (forever) or "check". */
    private static final String INIT = TestGuest.PREAMBLE + """
            mkdir /mnt/s
            mount -t virtiofs vshare /mnt/s 2>/tmp/err || { echo "FAIL mount: $(cat /tmp/err)" >&3; reboot -f; }
            echo ready >&3
            read -r mode <&3
            case "$mode" in
            stream)
              for i in 1 2; do (while :; do cat /mnt/s/big > /mnt/s/copy$i; done) & done
              (while :; do ls -lR /mnt/s > /dev/null; done) &
              echo streaming >&3
              while :; do sleep 3600; done ;;
            check)
              echo "md5 $(md5sum < /mnt/s/big | cut -d' ' -f1)" >&3
              echo "from the second guest" > /mnt/s/second && sync && echo wrote >&3
              umount /mnt/s && echo DONE >&3
              reboot -f ;;
            esac
            """;

    @Test
    void killingQemuMidRequestLeavesNothingBehindAndTheShareServesTheNextVm() throws Exception {
        TestGuest.assumeGuestsCanRun("VirtioFsVmDeathTest");

        Path share = Files.createDirectories(tmp.resolve("share"));
        String bigMd5 = writeRandom(share.resolve("big"));
        Path image = TestGuest.buildImage(Files.createDirectories(tmp.resolve("image")), INIT, Map.of(), 16);
        ShareLeftovers.warmUpJdkPollers(tmp);
        List<String> fdsBefore = ShareLeftovers.descriptors();

        // the first VM streams through the share until QEMU is killed under it
        Path state1 = Files.createDirectories(tmp.resolve("state1"));
        long pid;
        long requestsBeforeKill;
        try (QemuHypervisor hv = vm("vfs-dies", state1, image, share)) {
            try (SerialConnection serial = new SerialConnection(hv.agentEndpoint())) {
                expect(serial, "ready", Duration.ofSeconds(90));
                serial.writeLine("stream");
                expect(serial, "streaming", Duration.ofSeconds(30));
                long r0 = hv.virtioFsRequests();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (hv.virtioFsRequests() < r0 + 200) {
                    assertTrue(System.nanoTime() < deadline, "the guest streams through the share: " + hv.virtioFsRequests());
                    Thread.sleep(20);
                }
                requestsBeforeKill = hv.virtioFsRequests();
                pid = hv.pid().orElseThrow();
                ProcessHandle.of(pid).orElseThrow().destroyForcibly();
                assertNotNull(hv.exited().get(20, TimeUnit.SECONDS), "QEMU's death is noticed");
            }
            hv.stop(Duration.ofSeconds(2));
        }
        System.out.printf("virtio-fs VM death: QEMU %d killed after %d FUSE requests%n", pid, requestsBeforeKill);
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "QEMU is gone");
        assertEquals(List.of(), ShareLeftovers.after(fdsBefore, state1, tmp), "what the dead VM's share left");

        // the next VM gets the same directory, served anew, intact
        Path state2 = Files.createDirectories(tmp.resolve("state2"));
        try (QemuHypervisor hv = vm("vfs-next", state2, image, share)) {
            try (SerialConnection serial = new SerialConnection(hv.agentEndpoint())) {
                expect(serial, "ready", Duration.ofSeconds(90));
                serial.writeLine("check");
                assertEquals("md5 " + bigMd5, serial.readLine(Duration.ofSeconds(60)), "the guest reads the file intact");
                expect(serial, "wrote", Duration.ofSeconds(30));
                expect(serial, "DONE", Duration.ofSeconds(30));
            }
            hv.exited().get(30, TimeUnit.SECONDS);
            hv.stop(Duration.ofSeconds(2));
        }
        assertEquals("from the second guest\n", Files.readString(share.resolve("second")));
        assertEquals(bigMd5, md5(share.resolve("big")), "the host file was never written");
        assertEquals(List.of(), ShareLeftovers.after(fdsBefore, state2, tmp), "what the second VM's share left");
    }

    private QemuHypervisor vm(String id, Path state, Path image, Path share) {
        QemuHypervisor hv = (QemuHypervisor) new QemuProvider().create(id, state);
        try {
            hv.prepare(new VmConfig(2, 256, TestGuest.kernel(), image, List.of(), state.resolve("console.log"), false));
            hv.addDevice(new Device.SharedFs("vshare", share, Device.SharedFs.Kind.VIRTIO_FS, Device.SharedFs.Cache.AUTO));
            hv.start(Duration.ofSeconds(20));
            return hv;
        } catch (RuntimeException e) {
            hv.close();
            throw e;
        }
    }

    private static void expect(SerialConnection serial, String want, Duration timeout) throws InterruptedException {
        String line = serial.readLine(timeout);
        assertEquals(want, line, "the guest's next line");
    }

    private static String writeRandom(Path file) throws Exception {
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        SplittableRandom random = new SplittableRandom(32);
        byte[] chunk = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long written = 0; written < BIG; written += chunk.length) {
                for (int i = 0; i < chunk.length; i++) chunk[i] = (byte) random.nextInt(256);
                md5.update(chunk);
                out.write(chunk);
            }
        }
        return HexFormat.of().formatHex(md5.digest());
    }

    private static String md5(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(Files.readAllBytes(file)));
    }
}
