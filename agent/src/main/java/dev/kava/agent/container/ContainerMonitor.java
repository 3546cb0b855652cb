package dev.kava.agent.container;

import dev.kava.agent.AgentErrors;
import dev.kava.agent.Interruptible;
import dev.kava.api.agent.ListProcessesResponse;
import dev.kava.api.agent.StatsContainerResponse;
import dev.kava.ttrpc.CallContext;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What the host observes of containers: cgroup statistics, process lists, OOM kills. */
public final class ContainerMonitor {
    private static final long OOM_POLL_MS = 200;

    private final ContainerService containers;

    public ContainerMonitor(ContainerService containers) {
        this.containers = containers;
    }

    /** StatsContainer: the container's cgroup v2 files. */
    public StatsContainerResponse stats(String id) throws Exception {
        Container c = containers.get(id);
        return StatsContainerResponse.newBuilder()
                .setCgroupStats(CgroupStats.read(containers.cgroupDir(c))).build();
    }

    /** ListProcesses: the pids of the container's cgroup, as a table ("table") or JSON array. */
    public ListProcessesResponse list(String id, String format) throws Exception {
        Container c = containers.get(id);
        if (!format.isEmpty() && !format.equals("table") && !format.equals("json")) {
            throw AgentErrors.invalid("format `" + format + "` is not \"table\" or \"json\"");
        }
        List<Integer> pids = pids(containers.cgroupDir(c).resolve("cgroup.procs"));
        String text = format.equals("json") ? json(pids) : table(pids);
        ListProcessesResponse.Builder b = ListProcessesResponse.newBuilder()
                .setProcessList(ByteString.copyFrom(text, StandardCharsets.UTF_8));
        pids.forEach(b::addPids);
        return b.build();
    }

    static List<Integer> pids(Path procs) {
        List<Integer> pids = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(procs)) {
                if (!line.isBlank()) {
                    pids.add(Integer.parseInt(line.strip()));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // no cgroup (stopped container): no processes
        }
        return pids;
    }

    private static String json(List<Integer> pids) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < pids.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(pids.get(i));
        }
        return sb.append(']').toString();
    }

    /** A {@code ps}-like table: PID, PPID, state, command line. */
    static String table(List<Integer> pids) {
        StringBuilder sb = new StringBuilder(String.format("%7s %7s %s %s%n", "PID", "PPID", "S", "CMD"));
        for (int pid : pids) {
            String ppid = "?";
            String state = "?";
            String cmd = "";
            try {
                String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
                int close = stat.lastIndexOf(')');
                String[] rest = stat.substring(close + 1).trim().split(" ");
                state = rest[0];
                ppid = rest[1];
                cmd = stat.substring(stat.indexOf('(') + 1, close);
                byte[] raw = Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline"));
                if (raw.length > 0) {
                    cmd = new String(raw, StandardCharsets.UTF_8).replace('\0', ' ').strip();
                }
            } catch (IOException | RuntimeException e) {
                // the process went away
            }
            sb.append(String.format("%7d %7s %s %s%n", pid, ppid, state, cmd));
        }
        return sb.toString();
    }

    /**
     * GetOOMEvent: blocks until some container's memory.events oom_kill count grows, and answers
     * its id. Polls every 200 ms; each kill is reported once.
     */
    public String nextOom(CallContext ctx) throws Exception {
        return Interruptible.await(ctx, () -> {
            while (true) {
                for (Container c : containers.all()) {
                    if (!c.created) {
                        continue;
                    }
                    long kills = CgroupStats.keyed(containers.cgroupDir(c).resolve("memory.events"))
                            .getOrDefault("oom_kill", 0L);
                    synchronized (c) {
                        if (kills > c.oomReported) {
                            c.oomReported = kills;
                            return c.id;
                        }
                    }
                }
                Thread.sleep(OOM_POLL_MS);
            }
        });
    }
}
