package dev.kava.shim.task;

import com.google.protobuf.Any;
import dev.kava.api.agent.CgroupStats;
import dev.kava.api.cgroups.v2.CPUStat;
import dev.kava.api.cgroups.v2.MemoryEvents;
import dev.kava.api.cgroups.v2.MemoryStat;
import dev.kava.api.cgroups.v2.Metrics;
import dev.kava.api.cgroups.v2.PidsStat;
import java.util.Map;

/**
 * The guest's cgroup v2 figures of a container in the type containerd decodes from Stats
 * ({@code io.containerd.cgroups.v2.Metrics}), so {@code ctr task metrics} and CRI's ContainerStats work.
 */
final class Stats {
    static final String TYPE_URL = "io.containerd.cgroups.v2.Metrics";

    private Stats() {}

    static Any toAny(CgroupStats s) {
        return Any.newBuilder().setTypeUrl(TYPE_URL).setValue(toMetrics(s).toByteString()).build();
    }

    static Metrics toMetrics(CgroupStats s) {
        var cpu = s.getCpuStats().getCpuUsage();
        var mem = s.getMemoryStats();
        Map<String, Long> st = mem.getStatsMap();
        return Metrics.newBuilder()
                .setPids(PidsStat.newBuilder().setCurrent(s.getPidsStats().getCurrent()).setLimit(s.getPidsStats().getLimit()))
                .setCpu(CPUStat.newBuilder().setUsageUsec(cpu.getTotalUsage() / 1000)
                        .setUserUsec(cpu.getUsageInUsermode() / 1000).setSystemUsec(cpu.getUsageInKernelmode() / 1000))
                .setMemory(MemoryStat.newBuilder()
                        .setUsage(mem.getUsage()).setUsageLimit(mem.getLimit()).setMaxUsage(mem.getMaxUsage())
                        .setAnon(st.getOrDefault("anon", 0L)).setFile(st.getOrDefault("file", 0L))
                        .setKernelStack(st.getOrDefault("kernel_stack", 0L)).setSlab(st.getOrDefault("slab", 0L))
                        .setSock(st.getOrDefault("sock", 0L)).setShmem(st.getOrDefault("shmem", 0L))
                        .setFileMapped(st.getOrDefault("file_mapped", 0L)).setFileDirty(st.getOrDefault("file_dirty", 0L))
                        .setFileWriteback(st.getOrDefault("file_writeback", 0L)).setAnonThp(st.getOrDefault("anon_thp", 0L))
                        .setInactiveAnon(st.getOrDefault("inactive_anon", 0L)).setActiveAnon(st.getOrDefault("active_anon", 0L))
                        .setInactiveFile(st.getOrDefault("inactive_file", 0L)).setActiveFile(st.getOrDefault("active_file", 0L))
                        .setUnevictable(st.getOrDefault("unevictable", 0L))
                        .setSlabReclaimable(st.getOrDefault("slab_reclaimable", 0L))
                        .setSlabUnreclaimable(st.getOrDefault("slab_unreclaimable", 0L))
                        .setPgfault(st.getOrDefault("pgfault", 0L)).setPgmajfault(st.getOrDefault("pgmajfault", 0L)))
                .setMemoryEvents(MemoryEvents.newBuilder().setOomKill(mem.getOomKill()))
                .build();
    }
}
