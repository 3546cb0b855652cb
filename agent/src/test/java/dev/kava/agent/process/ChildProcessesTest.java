package dev.kava.agent.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Processes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Reaping as PID 1 does it, with this JVM as the child subreaper. */
@Timeout(60)
class ChildProcessesTest {
    private final ChildProcesses children = new ChildProcesses();

    @BeforeAll
    static void subreaper() {
        assertTrue(ChildProcesses.becomeSubreaper());
        assertTrue(Processes.isChildSubreaper());
    }

    @AfterEach
    void close() {
        children.close();
    }

    /** Runs {@code sh -c script} where the script starts a background grandchild and prints its pid. */
    private int orphan(String grandchild) throws Exception {
        Process p = children.start(new ProcessBuilder("/bin/sh", "-c", "(" + grandchild + ") >/dev/null 2>&1 & echo $!"));
        String pid = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor());
        return Integer.parseInt(pid);
    }

    private static String state(int pid) throws Exception {
        Path stat = Path.of("/proc/" + pid + "/stat");
        if (!Files.exists(stat)) {
            return null;
        }
        try {
            String s = Files.readString(stat);
            String[] rest = s.substring(s.lastIndexOf(')') + 1).trim().split(" ");
            return rest[0] + " " + rest[1];
        } catch (java.io.IOException gone) {
            return null;
        }
    }

    private static void awaitZombie(int pid) throws Exception {
        int self = Processes.getpid();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!("Z " + self).equals(state(pid))) {
            assertTrue(System.nanoTime() < deadline, "pid " + pid + " never became our zombie: " + state(pid));
            Thread.sleep(20);
        }
    }

    @Test
    void an_orphaned_grandchild_is_reparented_to_us_and_reaped_by_a_sweep() throws Exception {
        int pid = orphan("sleep 0.2");
        awaitZombie(pid);
        assertTrue(children.sweep() >= 1);
        assertEquals(null, state(pid), "reaped");
    }

    @Test
    void sweeps_do_not_steal_the_exit_codes_of_children_the_jdk_waits_for() throws Exception {
        children.startSweeping(1);
        List<Process> ps = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ps.add(children.start(new ProcessBuilder("/bin/sh", "-c", "exit " + (i + 3))));
        }
        for (int i = 0; i < 10; i++) {
            assertEquals(i + 3, ps.get(i).waitFor());
        }
    }

    @Test
    void sweeps_leave_a_held_pid_alone_until_it_is_adopted() throws Exception {
        int pid;
        try (ChildProcesses.Hold hold = children.holdSweeps()) {
            pid = orphan("sleep 0.2; exit 5");
            awaitZombie(pid);
            assertEquals(0, children.sweep(), "no sweep while held");
            var exit = children.adopt(pid, "t");
            hold.close();
            assertEquals(5, exit.get(10, TimeUnit.SECONDS));
        }
        assertFalse(children.owns(pid));
    }

    @Test
    void an_adopted_process_reports_its_exit_code() throws Exception {
        int pid = orphan("sleep 0.2; exit 3");
        assertEquals(3, children.adopt(pid, "t").get(10, TimeUnit.SECONDS));
    }

    @Test
    void an_adopted_process_killed_by_a_signal_reports_128_plus_the_signal() throws Exception {
        int pid = orphan("sleep 5");
        var exit = children.adopt(pid, "t");
        Processes.kill(pid, 9);
        assertEquals(128 + 9, exit.get(10, TimeUnit.SECONDS));
        int pid2 = orphan("sleep 5");
        var exit2 = children.adopt(pid2, "t");
        Processes.kill(pid2, 15);
        assertEquals(128 + 15, exit2.get(10, TimeUnit.SECONDS));
    }
}
