package dev.kava.agent.container;

import dev.kava.api.agent.CgroupStats.Builder;
import dev.kava.api.agent.CpuStats;
import dev.kava.api.agent.CpuUsage;
import dev.kava.api.agent.MemoryStats;
import dev.kava.api.agent.PidsStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Reads a cgroup v2 directory into the agent API's CgroupStats. Missing files read as zero. */
public final class CgroupStats {
    private CgroupStats() {}

    public static dev.kava.api.agent.CgroupStats read(Path dir) {
        Map<String, Long> cpu = keyed(dir.resolve("cpu.stat"));
        Map<String, Long> events = keyed(dir.resolve("memory.events"));
        Builder b = dev.kava.api.agent.CgroupStats.newBuilder();
        b.setCpuStats(CpuStats.newBuilder().setCpuUsage(CpuUsage.newBuilder()
                .setTotalUsage(cpu.getOrDefault("usage_usec", 0L) * 1000)
                .setUsageInUsermode(cpu.getOrDefault("user_usec", 0L) * 1000)
                .setUsageInKernelmode(cpu.getOrDefault("system_usec", 0L) * 1000)));
        b.setMemoryStats(MemoryStats.newBuilder()
                .setUsage(single(dir.resolve("memory.current")))
                .setMaxUsage(single(dir.resolve("memory.peak")))
                .setLimit(single(dir.resolve("memory.max")))
                .setOomKill(events.getOrDefault("oom_kill", 0L))
                .putAllStats(keyed(dir.resolve("memory.stat"))));
        b.setPidsStats(PidsStats.newBuilder()
                .setCurrent(single(dir.resolve("pids.current")))
                .setLimit(single(dir.resolve("pids.max"))));
        return b.build();
    }

    /** A file of one number; "max" (unlimited), absence and garbage read as 0. */
    public static long single(Path file) {
        try {
            String s = Files.readString(file).strip();
            return s.equals("max") ? 0 : Long.parseLong(s);
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }

    /** A flat-keyed file ("key value" per line). */
    public static Map<String, Long> keyed(Path file) {
        Map<String, Long> m = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(file)) {
                int sp = line.indexOf(' ');
                if (sp > 0) {
                    try {
                        m.put(line.substring(0, sp), Long.parseLong(line.substring(sp + 1).strip()));
                    } catch (NumberFormatException e) {
                        // not a number: skip
                    }
                }
            }
        } catch (IOException e) {
            // absent: empty
        }
        return m;
    }
}
