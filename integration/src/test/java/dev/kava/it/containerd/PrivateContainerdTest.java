package dev.kava.it.containerd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.cli.containerd.CommandResult;
import dev.kava.cli.containerd.LocalImages;
import dev.kava.cli.containerd.PrivateContainerd;
import dev.kava.linux.Mounts;
import dev.kava.linux.Processes;
import dev.kava.linux.Signals;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The harness against runc: a private containerd starts, the local busybox image imports, {@code ctr run}
 * works with exit codes, large stdout and stdin, tasks survive a containerd restart, and close leaves nothing.
 * The reference the kava shim's tests compare with.
 */
class PrivateContainerdTest {
    private static final String RUNC = "io.containerd.runc.v2";
    private static PrivateContainerd ctrd;

    /**
     * A container id of its own: containerd-shim-runc-v2 keeps runc state in /run/containerd/runc/NS/ID and
     * cgroups at /NS/ID, shared by every containerd using namespace NS, and others may run these tests too.
     */
    private static String id(String name) {
        return name + "-" + Long.toHexString(new Random().nextLong() & 0xffffffL);
    }

    @BeforeAll
    static void start() {
        ContainerdFixtures.assumeRootAndContainerd();
        ctrd = PrivateContainerd.start();
        System.out.println("containerd answered after " + ctrd.startupTime().toMillis() + " ms in " + ctrd.dir());
        long t0 = System.nanoTime();
        LocalImages.importDefaults(ctrd);
        System.out.println("local images built and imported in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    }

    @AfterAll
    static void stop() {
        if (ctrd != null) {
            Path dir = ctrd.dir();
            ctrd.close();
            assertFalse(Files.exists(dir), dir + " still exists");
        }
    }

    @AfterEach
    void nothingLeft() throws Exception {
        assertEquals(List.of(), ContainerdFixtures.awaitNoLeftovers(ctrd, Duration.ofSeconds(5)));
    }

    @Test
    void theImagesAreThere() {
        String images = ctrd.ctr("images", "ls", "-q").orThrow().stdout();
        assertTrue(images.contains(LocalImages.BUSYBOX) && images.contains(LocalImages.PAUSE), images);
        String cri = ctrd.ctrIn("k8s.io", null, "images", "ls", "-q").orThrow().stdout();
        assertTrue(cri.contains(LocalImages.BUSYBOX) && cri.contains(LocalImages.PAUSE), cri);
    }

    @Test
    void echoPrintsAndExitCodesPropagate() {
        CommandResult hi = ctrd.ctr("run", "--rm", "--runtime", RUNC, LocalImages.BUSYBOX, id("t1"), "echo", "hi");
        assertEquals(0, hi.exitCode(), hi::toString);
        assertEquals("hi\n", hi.stdout(), hi::toString);
        CommandResult three = ctrd.ctr("run", "--rm", "--runtime", RUNC, LocalImages.BUSYBOX, id("t2"), "sh", "-c", "exit 3");
        assertEquals(3, three.exitCode(), three::toString);
    }

    @Test
    void tenMebibytesOfStdoutAndStdinRoundTrip() {
        int size = 10 << 20;
        CommandResult big = ctrd.ctr("run", "--rm", "--runtime", RUNC, LocalImages.BUSYBOX, id("big"), "head", "-c", Integer.toString(size), "/dev/zero");
        assertEquals(0, big.exitCode(), big::toString);
        assertEquals(size, big.stdoutBytes().length);

        byte[] data = new byte[1 << 20];
        new Random(42).nextBytes(data);
        CommandResult cat = ctrd.ctr(data, "run", "--rm", "--runtime", RUNC, LocalImages.BUSYBOX, id("cat"), "cat");
        assertEquals(0, cat.exitCode(), cat::toString);
        assertArrayEquals(data, cat.stdoutBytes());
    }

    /** What the kava shim is compared with: stdin of {@code ctr task exec}, 11 MB of it, all reaches the process. */
    @Test
    void execStdinArrivesWhole() {
        String task = id("exec");
        ctrd.ctr("run", "-d", "--runtime", RUNC, LocalImages.BUSYBOX, task, "sleep", "600").orThrow();
        try {
            byte[] data = new byte[11_000_000];
            new Random(7).nextBytes(data);
            CommandResult wc = ctrd.ctr(new java.io.ByteArrayInputStream(data), "tasks", "exec", "--exec-id", "wc", task, "sh", "-c", "cat | wc -c");
            assertEquals(0, wc.exitCode(), wc::toString);
            assertEquals(Integer.toString(data.length), wc.stdout().strip(), wc::toString);
        } finally {
            ctrd.ctr("tasks", "kill", "-s", "SIGKILL", task);
            ctrd.ctr("tasks", "delete", "--force", task);
            ctrd.ctr("containers", "delete", task);
        }
    }

    @Test
    void aRunningTaskSurvivesARestart() {
        String task = id("long");
        ctrd.ctr("run", "-d", "--runtime", RUNC, LocalImages.BUSYBOX, task, "sleep", "600").orThrow();
        try {
            long before = ctrd.pid();
            ctrd.restart();
            assertTrue(ctrd.pid() > 0 && ctrd.pid() != before, "containerd was not restarted");
            System.out.println("containerd restarted in " + ctrd.startupTime().toMillis() + " ms");
            String tasks = ctrd.ctr("tasks", "ls").orThrow().stdout();
            assertTrue(tasks.contains(task) && tasks.contains("RUNNING"), tasks);
            CommandResult exec = ctrd.ctr("tasks", "exec", "--exec-id", "e1", task, "echo", "alive");
            assertEquals("alive\n", exec.stdout(), exec::toString);
        } finally {
            ctrd.ctr("tasks", "kill", "-s", "SIGKILL", task);
            ctrd.ctr("tasks", "delete", "--force", task);
            ctrd.ctr("containers", "delete", task).orThrow();
        }
    }

    /** The pod sandbox image runs as pid 1 and must still exit 0, at once, on SIGTERM. */
    @Test
    void thePauseImageExitsPromptlyOnSigterm() throws Exception {
        String pause = id("pause");
        Path output = ctrd.dir().resolve(pause + ".out");
        Process run = new ProcessBuilder(ctrd.ctrCommand(ctrd.namespace(), "run", "--rm", "--runtime", RUNC, LocalImages.PAUSE, pause))
                .redirectErrorStream(true).redirectOutput(output.toFile()).start();
        try {
            long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (!ctrd.ctr("tasks", "ls").stdout().matches("(?s).*" + pause + "\\s+\\d+\\s+RUNNING.*")) {
                assertTrue(System.nanoTime() < end && run.isAlive(), () -> "the pause container never ran: " + read(output));
                Thread.sleep(20);
            }
            long t0 = System.nanoTime();
            ctrd.ctr("tasks", "kill", pause).orThrow();   // SIGTERM
            assertTrue(run.waitFor(5, TimeUnit.SECONDS), "pause ignored SIGTERM for 5 s");
            System.out.println("pause exited " + (System.nanoTime() - t0) / 1_000_000 + " ms after SIGTERM");
            assertEquals(0, run.exitValue(), () -> "pause exit status; output: " + read(output));
        } finally {
            run.destroyForcibly();
            run.waitFor();
            ctrd.ctr("tasks", "delete", "--force", pause);
            ctrd.ctr("containers", "delete", pause);
            Files.deleteIfExists(output);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    @Test
    void runTrueTimings() {
        List<Long> ms = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            long t0 = System.nanoTime();
            ctrd.ctr("run", "--rm", "--runtime", RUNC, LocalImages.BUSYBOX, id("true"), "true").orThrow();
            ms.add((System.nanoTime() - t0) / 1_000_000);
        }
        System.out.println("ctr run --rm (runc) true: median " + ContainerdFixtures.median(ms) + " ms, all " + ms);
    }

    /** containerd dies with a running task: close still removes the shim, the container, the mounts and the directory. */
    @Test
    void closeAfterACrashLeavesNothing() throws Exception {
        PrivateContainerd crashed = PrivateContainerd.start();
        Path dir = crashed.dir();
        String orphan = id("orphan");
        try {
            LocalImages.importDefaults(crashed);
            crashed.ctr("run", "-d", "--runtime", RUNC, LocalImages.BUSYBOX, orphan, "sleep", "600").orThrow();
            assertFalse(crashed.leftovers().isEmpty(), "a running task should show as shim, container and mount");
            Processes.kill((int) crashed.pid(), Signals.SIGKILL);
        } finally {
            crashed.close();
        }
        assertFalse(Files.exists(dir), dir + " still exists");
        assertTrue(Mounts.mountInfo().stream().noneMatch(m -> m.mountPoint().startsWith(dir + "/")));
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.toList()) {
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline"))).replace('\0', ' ');
                    assertFalse(cmd.contains(dir.toString()), "left running: " + cmd);
                } catch (java.io.IOException e) {
                    // exited
                }
            }
        }
        try (var runc = Files.list(Path.of("/run/containerd/runc/kava-test"))) {
            assertTrue(runc.noneMatch(p -> p.getFileName().toString().equals(orphan)), "runc state of orphan left");
        } catch (java.nio.file.NoSuchFileException e) {
            // nothing there at all
        }
    }
}
