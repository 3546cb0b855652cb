package dev.kava.runtime.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Mounts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** kava cleanup against real leftovers: a live process standing in for the VM, a real mount, real files. */
class SandboxCleanerTest {

    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }

    @Test
    void aSandboxWhoseOwnerDiedLosesItsVmItsMountsAndItsDirectory(@TempDir Path root) throws Exception {
        String id = "dead-owner-1";
        Path dir = Files.createDirectories(root.resolve(id));
        Path mnt = Files.createDirectories(dir.resolve("shared/c1/rootfs"));
        Mounts.mount("tmpfs", mnt.toString(), "tmpfs", 0, "size=1m");
        Files.writeString(mnt.resolve("file"), "x");
        // a process whose command line names the sandbox stands in for its QEMU
        Process vm = new ProcessBuilder("sh", "-c", "while :; do sleep 0.2; done", "/run/kava/" + id + "/qmp.sock").start();
        long owner = deadPid();
        new SandboxState(id, owner, 1, "qemu", vm.pid(), List.of(mnt.toString()), "now").save(dir);

        var reports = SandboxCleaner.cleanup(root, false);

        assertEquals(1, reports.size());
        assertFalse(reports.getFirst().skipped());
        assertTrue(vm.waitFor(5, TimeUnit.SECONDS), "the VM process was not killed");
        assertFalse(Mounts.isMountPoint(mnt.toString()) && Files.exists(mnt), "the mount is still there");
        assertFalse(Files.exists(dir), "the state directory is still there");
    }

    @Test
    void theShimDirectoryIsNotASandboxOnlyItsDeadShimsFilesGo(@TempDir Path root) throws Exception {
        Path shim = Files.createDirectories(root.resolve(SandboxCleaner.SHIM_DIR));
        Files.writeString(shim.resolve("dead.pid"), "999999999");
        Files.writeString(shim.resolve("dead.sock"), "");
        Files.writeString(shim.resolve("dead.err"), "boom");
        Files.writeString(shim.resolve("live.pid"), Long.toString(ProcessHandle.current().pid()));
        Files.writeString(shim.resolve("live.sock"), "");
        var reports = SandboxCleaner.cleanup(root, true);
        assertTrue(Files.isDirectory(shim), "the directory itself stays, even with force");
        assertFalse(Files.exists(shim.resolve("dead.pid")));
        assertFalse(Files.exists(shim.resolve("dead.sock")));
        assertFalse(Files.exists(shim.resolve("dead.err")));
        assertTrue(Files.exists(shim.resolve("live.sock")), "a live shim keeps its socket");
        assertTrue(reports.stream().anyMatch(r -> r.id().equals("shim live") && r.skipped()), reports::toString);
    }

    @Test
    void aSandboxWhoseOwnerLivesIsKeptUnlessForced(@TempDir Path root) throws Exception {
        String id = "live-owner";
        Path dir = Files.createDirectories(root.resolve(id));
        long self = ProcessHandle.current().pid();
        new SandboxState(id, self, SandboxState.startTimeOf(self), "qemu", 0, List.of(), "now").save(dir);

        var kept = SandboxCleaner.cleanup(root, false);
        assertTrue(kept.getFirst().skipped(), kept.toString());
        assertTrue(Files.exists(dir));

        SandboxCleaner.cleanup(root, true);
        assertFalse(Files.exists(dir));
    }

    @Test
    void aProcessThatMerelyReusedTheVmPidIsNotKilled(@TempDir Path root) throws Exception {
        String id = "reused-pid";
        Path dir = Files.createDirectories(root.resolve(id));
        Process bystander = new ProcessBuilder("sleep", "1000").start();
        try {
            new SandboxState(id, deadPid(), 1, "qemu", bystander.pid(), List.of(), "now").save(dir);
            SandboxCleaner.cleanup(root, false);
            assertTrue(bystander.isAlive(), "cleanup killed a process that is not the sandbox's VM");
            assertFalse(Files.exists(dir));
        } finally {
            bystander.destroyForcibly();
        }
    }

    @Test
    void aMountUnderTheStateDirectoryIsNeverDeletedThrough(@TempDir Path root, @TempDir Path precious) throws Exception {
        // a bind mount of a directory we care about, not recorded in the state: cleanup must unmount, not delete through
        String id = "bind-inside";
        Path dir = Files.createDirectories(root.resolve(id));
        Files.writeString(precious.resolve("keep"), "keep");
        Path mnt = Files.createDirectories(dir.resolve("shared/vol"));
        Mounts.mount(precious.toString(), mnt.toString(), null, Mounts.MS_BIND, null);
        SandboxCleaner.cleanup(root, true);
        assertTrue(Files.exists(precious.resolve("keep")), "cleanup deleted files through a mount");
        assertFalse(Files.exists(dir));
    }

    @Test
    void theOwnerStartTimeDistinguishesAReusedPid() {
        long self = ProcessHandle.current().pid();
        assertTrue(new SandboxState("x", self, SandboxState.startTimeOf(self), "", 0, List.of(), "").ownerAlive());
        assertFalse(new SandboxState("x", self, SandboxState.startTimeOf(self) + 1, "", 0, List.of(), "").ownerAlive());
    }
}
