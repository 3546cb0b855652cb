package dev.kava.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ./kava run} end to end: every test boots a real VM (QEMU, TCG here) with the real agent and crun. */
@Tag("vm")
class KavaRunTest {
    private final Kava.Ids ids = new Kava.Ids("it");

    private String id() {
        return ids.next();
    }

    @AfterEach
    void nothingLeftBehind() throws Exception {
        ids.assertNothingLeft();
    }

    @Test
    void unameReportsTheGuestKernelNotTheHosts() throws Exception {
        var r = Kava.run("run", "--rm", "--name", id(), "busybox", "uname", "-r");
        assertEquals(0, r.status(), r::toString);
        Path release = Path.of(System.getenv().getOrDefault("KAVA_CACHE", "/var/cache/kava"), "current", "bzImage")
                .toRealPath().resolveSibling("release");
        assertEquals(Files.readString(release).strip(), r.stdout().strip(), r::toString);
        String host = new String(new ProcessBuilder("uname", "-r").start().getInputStream().readAllBytes()).strip();
        assertFalse(r.stdout().strip().equals(host), "printed the host kernel " + host);
    }

    @Test
    void exitStatusAndStdoutComeBack() throws Exception {
        var r = Kava.run("run", "--rm", "--name", id(), "busybox", "sh", "-c", "echo hi; exit 7");
        assertEquals(7, r.status(), r::toString);
        assertEquals("hi\n", r.stdout(), r::toString);
    }

    @Test
    void stdoutAndStderrStaySeparate() throws Exception {
        var r = Kava.run("run", "--rm", "--name", id(), "busybox", "sh", "-c", "echo to-out; echo to-err >&2; echo again-out");
        assertEquals(0, r.status(), r::toString);
        assertEquals("to-out\nagain-out\n", r.stdout(), r::toString);
        assertTrue(r.stderr().contains("to-err\n"), r::toString);
        assertFalse(r.stderr().contains("to-out"), r::toString);
    }

    @Test
    void stdinReachesTheContainerAndEndsWithEof() throws Exception {
        byte[] input = "data\nmore data\n".getBytes(StandardCharsets.UTF_8);
        var r = Kava.run(List.of("run", "--rm", "-i", "--name", id(), "busybox", "cat"), input, 120, Map.of());
        assertEquals(0, r.status(), r::toString);
        assertEquals("data\nmore data\n", r.stdout(), r::toString);
    }

    @Test
    void withoutInteractiveTheContainerSeesEndOfInput() throws Exception {
        var r = Kava.run("run", "--rm", "--name", id(), "busybox", "sh", "-c", "cat; echo eof-seen");
        assertEquals(0, r.status(), r::toString);
        assertEquals("eof-seen\n", r.stdout(), r::toString);
    }

    @Test
    void ttyGivesTheContainerATerminal() throws Exception {
        // `script` gives kava a real pseudo-terminal as its stdin and stdout, as a user's shell would
        String id = id();
        String cmd = Kava.HOME.resolve("kava") + " run --rm -t -i --name " + id
                + " busybox sh -c 'tty; [ -t 0 ] && echo stdin-is-a-tty; stty size'";
        var pb = new ProcessBuilder("script", "-qfec", "stty rows 33 cols 101; " + cmd, "/dev/null").directory(Kava.HOME.toFile());
        pb.redirectInput(ProcessBuilder.Redirect.PIPE);
        Process p = pb.start();
        var out = Kava.drain(p.getInputStream());
        var err = Kava.drain(p.getErrorStream());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "kava -t did not finish");
        out.join();
        String text = Kava.text(out);
        assertEquals(0, p.exitValue(), text + Kava.text(err));
        assertTrue(text.contains("/dev/pts/"), text);
        assertTrue(text.contains("stdin-is-a-tty"), text);
        assertTrue(text.contains("33 101"), "window size did not reach the container: " + text);
    }

    @Test
    void ttyAloneGivesAnInteractiveShellThatReadsWhatIsTyped() throws Exception {
        // `./kava run --rm -t busybox sh` in a terminal: what the user types reaches the shell
        String id = id();
        String cmd = Kava.HOME.resolve("kava") + " run --rm -t --name " + id + " busybox sh";
        var pb = new ProcessBuilder("script", "-qfec", cmd, "/dev/null").directory(Kava.HOME.toFile());
        Process p = pb.start();
        var out = Kava.drain(p.getInputStream());
        var err = Kava.drain(p.getErrorStream());
        try (var typed = p.getOutputStream()) {
            typed.write("echo typed-$((40+2)); exit 3\n".getBytes(StandardCharsets.UTF_8));
            typed.flush();
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the shell did not exit: " + Kava.text(out) + Kava.text(err));
        }
        out.join();
        assertTrue(Kava.text(out).contains("typed-42"), "the shell did not run what was typed: " + Kava.text(out));
        assertEquals(3, p.exitValue(), Kava.text(out) + Kava.text(err));
    }

    @Test
    void sigtermToKavaStopsTheContainerAndTheVm() throws Exception {
        String id = id();
        var running = Kava.startAndAwait(List.of("run", "--rm", "--stop-timeout", "2", "--name", id,
                "busybox", "sh", "-c", "echo started; exec sleep 1000"), "started");
        Process p = running.process();
        // the launcher execs java, so p is the kava JVM itself
        new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "kava did not stop after SIGTERM");
        int status = p.exitValue();
        // sleep as PID 1 ignores SIGTERM, so it is killed after the stop timeout
        assertTrue(status == 143 || status == 137, "exit status " + status + "\n" + Kava.text(running.err()));
    }

    @Test
    void cleanupUndoesWhatAKilledKavaLeftBehind() throws Exception {
        String id = id();
        Process p = Kava.startAndAwait(List.of("run", "--rm", "--name", id, "busybox", "sh", "-c", "echo started; exec sleep 1000"),
                "started").process();
        new ProcessBuilder("kill", "-KILL", Long.toString(p.pid())).start().waitFor();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        // a crash leaves the VM, the rootfs mount and the state behind: that is what cleanup is for
        assertFalse(Kava.leftovers(id).isEmpty(), "expected leftovers after kill -9");
        var r = Kava.run("cleanup");
        assertEquals(0, r.status(), r::toString);
        assertTrue(r.stdout().contains(id), r::toString);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Kava.leftovers(id).isEmpty() && System.nanoTime() < until) Thread.sleep(100);
        // @AfterEach asserts that nothing of this sandbox is left
    }

    @Test
    void aCommandThatDoesNotExistFailsClearlyWith127() throws Exception {
        var r = Kava.run("run", "--rm", "--name", id(), "busybox", "no-such-command-xyz");
        assertEquals(127, r.status(), r::toString);
        assertTrue(r.stderr().contains("no-such-command-xyz"), r::toString);
    }

    @Test
    void aVmThatCannotBootFailsClearlyAndLeavesNothing(@TempDir Path tmp) throws Exception {
        Path junk = tmp.resolve("not-a-kernel");
        Files.write(junk, new byte[4096]);
        Path cfg = tmp.resolve("kava.toml");
        Files.writeString(cfg, "[hypervisor]\nkernel = \"" + junk + "\"\nboot_timeout_seconds = 20\n");
        var r = Kava.run("run", "--rm", "--config", cfg.toString(), "--name", id(), "busybox", "true");
        assertEquals(125, r.status(), r::toString);
        assertTrue(r.stderr().contains("failed to start"), r::toString);
    }

    @Test
    void twoContainersRunInTwoVmsAtOnce() throws Exception {
        String a = id(), b = id();
        var ra = CompletableFuture.supplyAsync(() -> runQuietly(a));
        var rb = CompletableFuture.supplyAsync(() -> runQuietly(b));
        for (var r : List.of(ra.get(), rb.get())) {
            assertEquals(0, r.status(), r::toString);
            assertTrue(r.stdout().startsWith("vm-"), r::toString);
        }
        assertFalse(ra.get().stdout().equals(rb.get().stdout()), "both containers printed the same hostname");
    }

    private static Kava.Result runQuietly(String id) {
        try {
            return Kava.run("run", "--rm", "--name", id, "busybox", "sh", "-c", "sleep 1; echo vm-$(hostname)");
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }
}
