package dev.kava.agent.container;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CgroupStatsTest {
    @TempDir
    Path dir;

    @Test
    void reads_cgroup_v2_files_converting_microseconds_and_unlimited() throws Exception {
        Files.writeString(dir.resolve("cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
        Files.writeString(dir.resolve("memory.current"), "4096\n");
        Files.writeString(dir.resolve("memory.max"), "max\n");
        Files.writeString(dir.resolve("memory.events"), "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
        Files.writeString(dir.resolve("memory.stat"), "anon 8192\nfile 0\n");
        Files.writeString(dir.resolve("pids.current"), "3\n");
        Files.writeString(dir.resolve("pids.max"), "100\n");
        var s = CgroupStats.read(dir);
        assertEquals(1_500_000, s.getCpuStats().getCpuUsage().getTotalUsage());
        assertEquals(1_000_000, s.getCpuStats().getCpuUsage().getUsageInUsermode());
        assertEquals(500_000, s.getCpuStats().getCpuUsage().getUsageInKernelmode());
        assertEquals(4096, s.getMemoryStats().getUsage());
        assertEquals(0, s.getMemoryStats().getLimit());
        assertEquals(0, s.getMemoryStats().getMaxUsage(), "no memory.peak");
        assertEquals(1, s.getMemoryStats().getOomKill());
        assertEquals(8192, s.getMemoryStats().getStatsOrThrow("anon"));
        assertEquals(3, s.getPidsStats().getCurrent());
        assertEquals(100, s.getPidsStats().getLimit());
    }

    @Test
    void a_missing_cgroup_reads_as_zero() {
        var s = CgroupStats.read(dir.resolve("gone"));
        assertEquals(0, s.getMemoryStats().getUsage());
        assertEquals(0, s.getPidsStats().getCurrent());
    }

    @Test
    void crun_messages_are_reduced_to_their_text_and_missing_executables_recognised() {
        String log = "2024-05-01T10:00:00.123456Z: executable file `nope` not found in $PATH: No such file or directory\n";
        assertEquals("executable file `nope` not found in $PATH: No such file or directory", Crun.lastLine(log));
        assertEquals("nope", Crun.missingExecutable(Crun.lastLine(log)));
        assertEquals(dev.kava.ttrpc.Code.NOT_FOUND, Crun.failure("create", "c1", 1, log, null).code());
        assertEquals(dev.kava.ttrpc.Code.INTERNAL, Crun.failure("create", "c1", 1, "boom", null).code());
    }
}
