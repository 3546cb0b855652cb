package dev.kava.hypervisor.qemu;

import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.HypervisorException;
import dev.kava.hypervisor.HypervisorProvider;
import dev.kava.hypervisor.VmConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The plugin's contract that needs no VM: discovery, availability, argument checks before launch. */
class QemuProviderTest {

    @TempDir
    Path dir;

    @Test
    void serviceLoaderFindsTheQemuProvider() {
        HypervisorProvider p = HypervisorProvider.find("qemu").orElseThrow();
        assertInstanceOf(QemuProvider.class, p);
        assertFalse(p.availability().reason().isBlank());
        System.out.println("qemu availability: " + p.availability());
    }

    @Test
    void missingBinaryIsUnavailableWithTheRemedy() {
        QemuProvider p = new QemuProvider(dir.resolve("no-qemu"));
        assertFalse(p.availability().available());
        assertTrue(p.availability().reason().endsWith("apt-get install qemu-system-x86"), p.availability().reason());
        HypervisorException e = assertThrows(HypervisorException.class, () -> p.create("sb", dir));
        assertTrue(e.getMessage().contains("qemu is not available"), e.getMessage());
    }

    @Test
    void sandboxIdMustBeSafeInPathsAndOptions() {
        assumeTrue(new QemuProvider().availability().available());
        assertThrows(HypervisorException.class, () -> new QemuProvider().create("a,b", dir));
        assertThrows(HypervisorException.class, () -> new QemuProvider().create("../x", dir));
    }

    private VmConfig config(Path kernel, Path root) {
        return new VmConfig(1, 64, kernel, root, List.of(), dir.resolve("console.log"), false);
    }

    @Test
    void prepareNamesAMissingKernelOrRootImage() throws IOException {
        assumeTrue(new QemuProvider().availability().available());
        Path kernel = Files.writeString(dir.resolve("k"), "k");
        try (Hypervisor hv = new QemuProvider().create("sb", dir.resolve("state"))) {
            HypervisorException e = assertThrows(HypervisorException.class,
                    () -> hv.prepare(config(kernel, dir.resolve("missing.img"))));
            assertEquals("root image " + dir.resolve("missing.img") + " does not exist or is not a file", e.getMessage());
            e = assertThrows(HypervisorException.class, () -> hv.prepare(config(dir.resolve("vmlinuz"), kernel)));
            assertTrue(e.getMessage().startsWith("kernel " + dir.resolve("vmlinuz")), e.getMessage());
        }
    }

    @Test
    void tooLongStateDirIsRefusedBeforeLaunch() throws IOException {
        assumeTrue(new QemuProvider().availability().available());
        Path kernel = Files.writeString(dir.resolve("k"), "k");
        Path state = dir.resolve("x".repeat(100));
        try (Hypervisor hv = new QemuProvider().create("sb", state)) {
            HypervisorException e = assertThrows(HypervisorException.class, () -> hv.prepare(config(kernel, kernel)));
            assertTrue(e.getMessage().contains("too long for a unix socket"), e.getMessage());
        }
    }

    @Test
    void missingSharesAndDuplicateTagsAreRefusedAtAddDevice() throws IOException {
        assumeTrue(new QemuProvider().availability().available());
        Path kernel = Files.writeString(dir.resolve("k"), "k");
        try (QemuHypervisor hv = (QemuHypervisor) new QemuProvider().create("sb", dir.resolve("state"))) {
            hv.prepare(config(kernel, kernel));
            assertThrows(HypervisorException.class,
                    () -> hv.addDevice(new Device.SharedFs("x", dir.resolve("nope"), Device.SharedFs.Kind.NINE_P)));
            assertThrows(HypervisorException.class,
                    () -> hv.addDevice(new Device.SharedFs("v", dir.resolve("nope"), Device.SharedFs.Kind.VIRTIO_FS)));
            hv.addDevice(new Device.SharedFs("x", dir, Device.SharedFs.Kind.NINE_P));
            assertThrows(HypervisorException.class,
                    () -> hv.addDevice(new Device.SharedFs("x", dir, Device.SharedFs.Kind.VIRTIO_FS)));
            hv.addDevice(new Device.SharedFs("v", dir, Device.SharedFs.Kind.VIRTIO_FS));
            assertTrue(hv.commandLine().contains("virtio-9p-device,fsdev=fs0,mount_tag=x"));
            assertTrue(hv.commandLine().contains("vhost-user-fs-device,chardev=vfs0,tag=v,queue-size=1024"));
            assertTrue(hv.capabilities().pauseResume());
            assertTrue(hv.capabilities().sharedFs9p());
            assertTrue(hv.capabilities().virtioFs());
        }
    }

    @Test
    void closeBeforeStartIsHarmlessAndIdempotent() {
        assumeTrue(new QemuProvider().availability().available());
        Hypervisor hv = new QemuProvider().create("sb", dir.resolve("state"));
        hv.close();
        hv.close();
        assertFalse(hv.isRunning());
        assertTrue(hv.pid().isEmpty());
        assertEquals(List.of(), hv.threadIds());
        assertFalse(hv.exited().isDone());
    }
}
