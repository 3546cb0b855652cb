package dev.kava.it.containerd;

import static org.junit.jupiter.api.Assertions.*;

import dev.kava.cli.containerd.CommandResult;
import dev.kava.cli.containerd.ContainerdOptions;
import dev.kava.cli.containerd.LocalImages;
import dev.kava.cli.containerd.PrivateContainerd;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * containerd-shim-kava-v2 under a real containerd (started by the test, its own root, state and socket)
 * with ctr: every command of the issue, exit codes, large outputs, stdin, terminals, kill of an exec vs
 * the init, concurrency, events, and recovery after kill -9 of the shim and a containerd restart. Each
 * test boots real VMs (QEMU) and checks that nothing of them is left.
 */
@Tag("vm")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KavaShimTest {
    private static final String KAVA = "io.containerd.kava.v2";
    private static final String IMAGE = LocalImages.BUSYBOX;
    private PrivateContainerd ctrd;

    @BeforeAll
    void start() {
        ContainerdFixtures.assumeRootAndContainerd();
        ctrd = PrivateContainerd.start(KavaShim.options(ContainerdOptions.defaults().withNamespace("kava-shim-test")));
        LocalImages.importDefaults(ctrd);
    }

    @AfterAll
    void stop() {
        if (ctrd != null) ctrd.close();
    }

    @AfterEach
    void nothingLeft() throws Exception {
        if (ctrd == null) return;
        List<String> left = KavaShim.awaitNoLeftovers(ctrd.namespace(), 20_000);
        if (!left.isEmpty()) System.out.println("containerd's log:\n" + ctrd.logTail(60));
        assertEquals(List.of(), left, "a kava pod left something behind");
        assertEquals(List.of(), ContainerdFixtures.awaitNoLeftovers(ctrd, java.time.Duration.ofSeconds(20)));
    }

    private CommandResult ok(CommandResult r) {
        if (!r.ok()) {
            System.out.println("containerd's log:\n" + ctrd.logTail(60));
            fail("ctr failed: " + r);
        }
        return r;
    }

    @Test
    void runRemovesAndReportsTheGuestKernelAndExitCodes() throws Exception {
        String hostRelease = Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        CommandResult r = ok(ctrd.ctr("run", "--rm", "--runtime", KAVA, IMAGE, "t1", "sh", "-c",
                "uname -r; grep ' / ' /proc/mounts"));
        String[] lines = r.stdout().trim().split("\n");
        String guest = lines[0];
        assertTrue(guest.matches("6\\.1\\.\\d+.*"), "the guest kernel answers: " + guest);
        assertNotEquals(hostRelease, guest);
        // containerd's snapshot reaches the guest through kava's virtio-fs server (the default share)
        assertTrue(lines.length == 2 && lines[1].contains(" / virtiofs "), "the rootfs is virtio-fs: " + r.stdout());

        CommandResult e = ctrd.ctr("run", "--rm", "--runtime", KAVA, IMAGE, "t2", "sh", "-c", "echo out; echo err >&2; exit 7");
        assertEquals(7, e.exitCode(), e.toString());
        assertEquals("out\n", e.stdout());
        assertTrue(e.stderr().contains("err\n"), e.stderr());

        // stdin reaches the init process, then end of file (ctr with runc, here, never delivers that end)
        CommandResult cat = ok(ctrd.ctr("abc".getBytes(StandardCharsets.UTF_8), "run", "--rm", "--runtime", KAVA, IMAGE, "t3", "cat"));
        assertEquals("abc", cat.stdout());
    }

    @Test
    void aDetachedTaskWithExecsStdioPauseMetricsAndEvents() throws Exception {
        Process events = new ProcessBuilder(ctrd.ctrCommand(ctrd.namespace(), "events")).redirectErrorStream(true).start();
        ByteArrayOutputStream eventLog = new ByteArrayOutputStream();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (InputStream in = events.getInputStream()) {
                in.transferTo(eventLog);
            } catch (Exception ignored) {
                // ends with the process
            }
        });
        try {
            ok(ctrd.ctr("run", "-d", "--runtime", KAVA, IMAGE, "d1", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"));
            CommandResult ls = ok(ctrd.ctr("task", "ls"));
            assertTrue(ls.stdout().matches("(?s).*d1\\s+\\d+\\s+RUNNING.*"), ls.stdout());

            CommandResult x = ctrd.ctr("task", "exec", "--exec-id", "e1", "d1", "sh", "-c", "echo from exec; exit 3");
            assertEquals(3, x.exitCode(), x.toString());
            assertEquals("from exec\n", x.stdout());

            // stdin to its end: 11 MB in, counted by the container
            byte[] in = new byte[11_000_000];
            new java.util.Random(7).nextBytes(in);
            CommandResult wc = ok(ctrd.ctr(in, "task", "exec", "--exec-id", "e2", "d1", "sh", "-c", "cat | wc -c"));
            assertEquals("11000000", wc.stdout().trim(), "every stdin byte reaches the process before end of file");

            // 10 MiB out, byte-exact, and the digest the guest computed on stderr
            CommandResult big = ok(ctrd.ctr("task", "exec", "--exec-id", "e4", "d1", "sh", "-c",
                    "head -c 10485760 /dev/urandom > /tmp/big; sha256sum /tmp/big >&2; cat /tmp/big"));
            assertEquals(10 * 1024 * 1024, big.stdoutBytes().length);
            String digest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(big.stdoutBytes()));
            assertTrue(big.stderr().startsWith(digest), "guest " + big.stderr() + " vs host " + digest);

            // a terminal, resized: script(1) gives ctr a real tty of 33x91
            Process tty = new ProcessBuilder("script", "-qec", "stty cols 91 rows 33; " + String.join(" ",
                    ctrd.ctrCommand(ctrd.namespace(), "task", "exec", "-t", "--exec-id", "e5", "d1",
                            "sh", "-c", "'for i in $(seq 1 100); do s=$(stty size 2>/dev/null); "
                                    + "[ -n \"$s\" ] && [ \"$s\" != \"0 0\" ] && break; sleep 0.2; done; "
                                    + "echo size $s; tty; exit 5'")), "/dev/null")
                    .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE).start();
            String ttyOut = new String(tty.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(tty.waitFor(60, TimeUnit.SECONDS));
            assertEquals(5, tty.exitValue(), ttyOut);
            assertTrue(ttyOut.contains("size 33 91"), "the window size reached the guest: " + ttyOut);
            assertTrue(ttyOut.contains("/dev/pts/"), ttyOut);

            CommandResult ps = ok(ctrd.ctr("task", "ps", "d1"));
            assertTrue(ps.stdout().lines().skip(1).anyMatch(l -> l.trim().matches("\\d+\\s+.*")), ps.stdout());
            CommandResult metrics = ok(ctrd.ctr("task", "metrics", "d1"));
            assertTrue(metrics.stdout().matches("(?s).*pids\\.current\\s+[1-9].*"), metrics.stdout());
            assertTrue(metrics.stdout().matches("(?s).*memory\\.usage\\s+[1-9]\\d*.*"), metrics.stdout());

            ok(ctrd.ctr("task", "pause", "d1"));
            assertTrue(ok(ctrd.ctr("task", "ls")).stdout().matches("(?s).*d1\\s+\\d+\\s+PAUSED.*"));
            ok(ctrd.ctr("task", "resume", "d1"));
            assertTrue(ok(ctrd.ctr("task", "ls")).stdout().matches("(?s).*d1\\s+\\d+\\s+RUNNING.*"));

            // kill an exec: it dies, the init lives on
            ok(ctrd.ctr("task", "exec", "-d", "--exec-id", "e6", "d1", "sleep", "1000"));
            assertEquals("1", countSleepers("c1"), "the exec runs");
            ok(ctrd.ctr("task", "kill", "--exec-id", "e6", "-s", "SIGKILL", "d1"));
            String after = "";
            for (int i = 0; i < 100 && !(after = countSleepers("c" + (i + 2))).equals("0"); i++) Thread.sleep(100);
            assertEquals("0", after, "the killed exec is gone");
            assertTrue(ok(ctrd.ctr("task", "ls")).stdout().matches("(?s).*d1\\s+\\d+\\s+RUNNING.*"), "the init survives");

            // kill the init: SIGTERM is trapped and it exits 0
            ok(ctrd.ctr("task", "kill", "-s", "SIGTERM", "d1"));
            awaitStatus("d1", "STOPPED");
            CommandResult again = ctrd.ctr("task", "kill", "-s", "SIGKILL", "d1");
            assertNotEquals(0, again.exitCode(), "a finished process cannot be signalled");
            ok(ctrd.ctr("task", "rm", "d1"));
            ok(ctrd.ctr("container", "rm", "d1"));
            Thread.sleep(1000);   // the last events travel
        } finally {
            events.destroy();
            reader.join(5000);
        }
        String log = eventLog.toString(StandardCharsets.UTF_8);
        assertTrue(log.lines().anyMatch(l -> l.contains("/tasks/exit") && l.contains("\"id\":\"e6\"") && l.contains("137")),
                "the killed exec's exit (137) is published:\n" + log + "\ncontainerd and shim log:\n" + ctrd.logTail(150));
        for (String topic : List.of("/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started",
                "/tasks/exit", "/tasks/paused", "/tasks/resumed", "/tasks/delete")) {
            assertTrue(log.contains(topic), "containerd saw no " + topic + " event:\n" + log);
        }
    }

    /** How many `sleep 1000` run in d1, counted by an exec of its own. */
    private String countSleepers(String execId) {
        return ok(ctrd.ctr("task", "exec", "--exec-id", execId, "d1", "sh", "-c", "ps | grep -c '[s]leep 1000' || true")).stdout().trim();
    }

    private void awaitStatus(String id, String status) throws InterruptedException {
        for (int i = 0; i < 300; i++) {
            if (ctrd.ctr("task", "ls").stdout().matches("(?s).*" + id + "\\s+\\d+\\s+" + status + ".*")) return;
            Thread.sleep(100);
        }
        fail(id + " never became " + status + ": " + ctrd.ctr("task", "ls"));
    }

    @Test
    void aSpareShimAnswersTheNextPodsStart() throws Exception {
        ok(ctrd.ctr("run", "--rm", "--runtime", KAVA, IMAGE, "s1", "true"));
        // the first start left a spare daemon for this containerd; wait until it is warm
        Path spares = spares();
        long spare = 0;
        for (int i = 0; i < 600 && spare == 0; i++) {
            spare = spareOf(spares, ctrd.ttrpcAddress());
            if (spare == 0) Thread.sleep(100);
        }
        assertNotEquals(0, spare, "a warm spare waits for the next pod");
        ok(ctrd.ctr("run", "-d", "--runtime", KAVA, IMAGE, "s2", "sleep", "1000"));
        try {
            String json = Files.readString(Path.of("/run/kava", ctrd.namespace() + "--s2", "state.json"));
            long owner = Long.parseLong(json.replaceAll("(?s).*\"ownerPid\"\\s*:\\s*(\\d+).*", "$1"));
            assertEquals(spare, owner, "the spare became the pod's shim");
            long live = 0;
            for (int i = 0; i < 600 && (live = spareCount(spares(), ctrd.ttrpcAddress())) != 1; i++) Thread.sleep(100);
            assertEquals(1, live, "one new spare replaces the one taken");
        } finally {
            ctrd.ctr("task", "kill", "-s", "SIGKILL", "s2");
            awaitStatus("s2", "STOPPED");
            ok(ctrd.ctr("task", "rm", "s2"));
            ok(ctrd.ctr("container", "rm", "s2"));
        }
    }

    private static Path spares() {
        return Path.of("/run/kava/shim/spare");
    }

    /** Live spares (warm or warming) of one containerd. */
    private static long spareCount(Path spares, String ttrpc) throws Exception {
        if (!Files.isDirectory(spares)) return 0;
        try (var files = Files.list(spares)) {
            return files.filter(f -> f.toString().endsWith(".ttrpc")).filter(f -> {
                try {
                    return Files.readString(f).trim().equals(ttrpc);
                } catch (java.io.IOException e) {
                    return false;
                }
            }).count();
        }
    }

    /** The pid of a ready spare serving {@code ttrpc}, or 0. */
    private static long spareOf(Path spares, String ttrpc) throws Exception {
        if (!Files.isDirectory(spares)) return 0;
        try (var files = Files.list(spares)) {
            for (Path ready : files.filter(f -> f.toString().endsWith(".ready")).toList()) {
                String base = ready.toString().replaceFirst("\\.ready$", "");
                try {
                    if (!Files.readString(Path.of(base + ".ttrpc")).trim().equals(ttrpc)) continue;
                    long pid = Long.parseLong(Files.readString(Path.of(base + ".pid")).trim());
                    if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) return pid;
                } catch (java.io.IOException | NumberFormatException e) {
                    // claimed meanwhile
                }
            }
        }
        return 0;
    }

    @Test
    void fiveContainersStartConcurrently() throws Exception {
        List<CompletableFuture<CommandResult>> runs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            String id = "c" + i;
            runs.add(CompletableFuture.supplyAsync(() -> ctrd.ctr("run", "--rm", "--runtime", KAVA, IMAGE, id, "echo", id)));
        }
        for (int i = 0; i < 5; i++) {
            CommandResult r = ok(runs.get(i).get(300, TimeUnit.SECONDS));
            assertEquals("c" + i + "\n", r.stdout());
        }
    }

    @Test
    void aMissingCommandFailsCleanly() {
        CommandResult r = ctrd.ctr("run", "--rm", "--runtime", KAVA, IMAGE, "m1", "/no/such/command");
        assertNotEquals(0, r.exitCode());
        assertTrue((r.stdout() + r.stderr()).contains("/no/such/command"), r.toString());
        ctrd.ctr("task", "rm", "-f", "m1");
        ctrd.ctr("container", "rm", "m1");
    }

    @Test
    void afterKillMinus9OfTheShimNothingIsLeft() throws Exception {
        ok(ctrd.ctr("run", "-d", "--runtime", KAVA, IMAGE, "k1", "sleep", "1000"));
        Path state = Path.of("/run/kava", ctrd.namespace() + "--k1", "state.json");
        assertTrue(Files.exists(state), "the pod's sandbox state exists while it runs");
        String json = Files.readString(state);
        long shim = Long.parseLong(json.replaceAll("(?s).*\"ownerPid\"\\s*:\\s*(\\d+).*", "$1"));
        long vm = Long.parseLong(json.replaceAll("(?s).*\"vmPid\"\\s*:\\s*(\\d+).*", "$1"));
        assertTrue(ProcessHandle.of(vm).isPresent(), "the VM runs");
        new ProcessBuilder("kill", "-9", Long.toString(shim)).start().waitFor();
        // containerd sees the shim's socket close and runs `containerd-shim-kava-v2 delete`
        List<String> left = KavaShim.awaitNoLeftovers(ctrd.namespace(), 30_000);
        assertEquals(List.of(), left, "the dead shim's VM, mounts and state are cleaned by delete");
        assertFalse(ProcessHandle.of(vm).map(ProcessHandle::isAlive).orElse(false), "the VM is gone");
        ctrd.ctr("task", "rm", "-f", "k1");
        ok(ctrd.ctr("container", "rm", "k1"));
    }

    @Test
    void tasksSurviveAContainerdRestart() throws Exception {
        ok(ctrd.ctr("run", "-d", "--runtime", KAVA, IMAGE, "r1", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"));
        ctrd.restart();
        assertTrue(ok(ctrd.ctr("task", "ls")).stdout().matches("(?s).*r1\\s+\\d+\\s+RUNNING.*"), "listed after the restart");
        assertEquals("after restart\n", ok(ctrd.ctr("task", "exec", "--exec-id", "x1", "r1", "echo", "after restart")).stdout());
        ok(ctrd.ctr("task", "kill", "-s", "SIGTERM", "r1"));
        awaitStatus("r1", "STOPPED");
        ok(ctrd.ctr("task", "rm", "r1"));
        ok(ctrd.ctr("container", "rm", "r1"));
    }
}
