package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Java reaps the children it spawns itself, so these tests wait for grandchildren instead: with
 * this JVM a child subreaper, a process left behind by a shell is reparented to us.
 */
class ProcessesTest {
    @BeforeAll
    static void becomeSubreaper() {
        Processes.setChildSubreaper();
        assertTrue(Processes.isChildSubreaper());
    }

    /**
     * Starts {@code command} in the background of a shell that then exits; returns its pid. The
     * background process waits for the shell to be gone before it runs {@code command}: a shell
     * that sees SIGCHLD while still running reaps its background jobs itself (dash does), and a
     * command that ended that early would never become our child.
     */
    private static int orphan(String command) throws Exception {
        String detached = "(while kill -0 $$ 2>/dev/null; do sleep 0.01; done; exec " + command + ")";
        Process sh = new ProcessBuilder("sh", "-c", detached + " >/dev/null 2>&1 </dev/null & echo $!").start();
        String line;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(sh.getInputStream(), StandardCharsets.UTF_8))) {
            line = out.readLine();
        }
        assertTrue(sh.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, sh.exitValue());
        return Integer.parseInt(line.trim());
    }

    @Test
    void getpidIsThisJvm() {
        assertEquals(ProcessHandle.current().pid(), Processes.getpid());
    }

    @Test
    void waitpidReapsAnOrphanedGrandchildWithItsExitCode() throws Exception {
        int pid = orphan("sh -c 'sleep 0.2; exit 7'");
        assertEquals(Processes.getpid(), ProcessHandle.of(pid).flatMap(ProcessHandle::parent)
                .map(ProcessHandle::pid).orElse(-1L).intValue(), "reparented to the subreaper");
        WaitStatus s = Processes.waitpid(pid, 0);
        assertEquals(pid, s.pid());
        assertTrue(s.exited());
        assertFalse(s.signaled());
        assertEquals(7, s.exitCode());
        assertEquals(7, s.toExitStatus());
    }

    @Test
    void zombieChildrenListsAnExitedOrphanUntilItIsReaped() throws Exception {
        int pid = orphan("sh -c 'exit 3'");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Processes.zombieChildren().contains(pid)) {
            assertTrue(System.nanoTime() < deadline, "pid " + pid + " never became our zombie");
            Thread.sleep(10);
        }
        WaitStatus s = Processes.waitpid(pid, Processes.WNOHANG);
        assertEquals(3, s.exitCode());
        assertFalse(Processes.zombieChildren().contains(pid));
    }

    @Test
    void killGivesASignaledStatusAndWnohangReturnsNullWhileRunning() throws Exception {
        int pid = orphan("sleep 30");
        assertNull(Processes.waitpid(pid, Processes.WNOHANG | Processes.WALL));
        Processes.kill(pid, Signals.SIGTERM);
        WaitStatus s = Processes.waitpid(pid, 0);
        assertTrue(s.signaled());
        assertFalse(s.exited());
        assertEquals(Signals.SIGTERM, s.termSignal());
        assertEquals(143, s.toExitStatus());
    }

    @Test
    void waitpidOfANonChildThrowsEchild() {
        ErrnoException e = assertThrows(ErrnoException.class, () -> Processes.waitpid(1, Processes.WNOHANG));
        assertEquals("ECHILD", e.errnoName());
    }

    @Test
    void killOfAMissingProcessThrowsEsrch() {
        ErrnoException e = assertThrows(ErrnoException.class, () -> Processes.kill(0x3fffffff, 0));
        assertEquals(Errno.ESRCH, e.errno());
    }

    @Test
    void waitStatusDecodesRawWords() {
        WaitStatus exited = new WaitStatus(1, 0x0700);
        assertTrue(exited.exited());
        assertEquals(7, exited.exitCode());
        WaitStatus killed = new WaitStatus(1, 0x09 | 0x80);
        assertTrue(killed.signaled());
        assertTrue(killed.coreDumped());
        assertEquals(137, killed.toExitStatus());
        WaitStatus stopped = new WaitStatus(1, (Signals.SIGSTOP << 8) | 0x7f);
        assertTrue(stopped.stopped());
        assertFalse(stopped.signaled());
        assertFalse(stopped.exited());
        assertEquals(Signals.SIGSTOP, stopped.stopSignal());
        assertThrows(IllegalStateException.class, stopped::toExitStatus);
        WaitStatus continued = new WaitStatus(1, 0xffff);
        assertFalse(continued.signaled());
        assertFalse(continued.exited());
    }
}
