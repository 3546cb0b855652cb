package dev.kava.cli;

import dev.kava.cli.containerd.CommandResult;
import dev.kava.cli.containerd.ContainerdOptions;
import dev.kava.cli.containerd.LocalImages;
import dev.kava.cli.containerd.PrivateContainerd;
import dev.kava.runtime.config.ConfigLoader;
import dev.kava.runtime.sandbox.SandboxState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kava bench ctr}: {@code ctr run --rm IMAGE id true} with kava's shim and with runc, alternating,
 * in a private containerd this command starts; the shim's own share is taken from the shim's timeline
 * ({@code KAVA_SHIM_TIMELINE}) and separated from the VM's boot and the guest's work. Then host memory
 * per pod with N pods running: shim RSS, and PSS of shim + hypervisor.
 */
@Command(name = "ctr", description = "ctr run --rm ... true with kava vs runc in a private containerd; memory per pod.")
final class CtrBench implements Callable<Integer> {
    @Option(names = {"-n", "--runs"}, defaultValue = "10", description = "runs of each runtime (default: ${DEFAULT-VALUE})")
    int runs;

    @Option(names = "--pods", defaultValue = "10", description = "pods kept running for the memory figures (default: ${DEFAULT-VALUE}; 0 skips)")
    int pods;

    @Override
    public Integer call() throws Exception {
        Path home = Path.of(System.getProperty("kava.home", "."));
        Path shimBin = home.resolve("shim/bin");
        if (!Files.isExecutable(shimBin.resolve("containerd-shim-kava-v2"))) {
            throw new IllegalStateException("cannot find " + shimBin.resolve("containerd-shim-kava-v2") + " (run this through ./kava)");
        }
        Path tmp = Files.createTempDirectory("kava-bench-ctr");
        Path timeline = tmp.resolve("timeline");
        ContainerdOptions opts = ContainerdOptions.defaults().withNamespace("kava-bench").withExtraPath(shimBin)
                .withEnv(Map.of("KAVA_SHIM_TIMELINE", timeline.toString()));
        try (PrivateContainerd ctrd = PrivateContainerd.start(opts)) {
            System.err.println("kava bench ctr: containerd up in " + ctrd.startupTime().toMillis() + " ms; importing images");
            LocalImages.importDefaults(ctrd);
            String image = LocalImages.BUSYBOX;
            run(ctrd, "io.containerd.runc.v2", image, "warm-runc");
            run(ctrd, "io.containerd.kava.v2", image, "warm-kava");
            List<Double> kava = new ArrayList<>(), runc = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                runc.add(run(ctrd, "io.containerd.runc.v2", image, "r" + i));
                kava.add(run(ctrd, "io.containerd.kava.v2", image, "k" + i));
                System.err.printf("kava bench ctr: run %d/%d: runc %.0f ms, kava %.0f ms%n", i + 1, runs, runc.getLast(), kava.getLast());
            }
            Map<String, List<Double>> split = splits(Files.readString(timeline), runs);
            System.out.printf("kava bench ctr: `ctr run --rm %s ID true`, %d runs each, alternating, medians in ms%n", image, runs);
            System.out.printf("  runc (io.containerd.runc.v2)   %8.0f%n", median(runc));
            System.out.printf("  kava (io.containerd.kava.v2)   %8.0f   x%.1f of runc%n", median(kava), median(kava) / median(runc));
            System.out.println("  where kava's time goes (shim timeline):");
            for (var e : split.entrySet()) System.out.printf("    %-52s %8.1f%n", e.getKey(), median(e.getValue()));
            if (pods > 0) memory(ctrd, image);
        } finally {
            try (var s = Files.walk(tmp)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return 0;
    }

    private static double run(PrivateContainerd ctrd, String runtime, String image, String id) {
        long t0 = System.nanoTime();
        CommandResult r = ctrd.ctr("run", "--rm", "--runtime", runtime, image, id, "true");
        double ms = (System.nanoTime() - t0) / 1e6;
        if (!r.ok()) throw new IllegalStateException(runtime + " run " + id + " failed: " + r);
        return ms;
    }

    /** The shim's marks per kava run, turned into the steps of its time. */
    static Map<String, List<Double>> splits(String timeline, int runs) {
        Map<String, Map<String, Long>> byId = new HashMap<>();
        for (String line : timeline.split("\n")) {
            String[] f = line.trim().split(" ");
            if (f.length == 3) byId.computeIfAbsent(f[0], k -> new HashMap<>()).putIfAbsent(f[1], Long.parseLong(f[2]));
        }
        String[][] steps = {
                {"shim: `start` exec to address printed (JVM up, socket bound)", "start-exec", "start-printed"},
                {"containerd: address to Create received", "start-printed", "create-received"},
                {"shim: Create to VM launch", "create-received", "sandbox-start"},
                {"VM boot to agent ready and sandbox set up", "sandbox-start", "sandbox-ready"},
                {"shim: rootfs mount and spec, to the agent call", "sandbox-ready", "agent-create-sent"},
                {"guest: crun create", "agent-create-sent", "agent-create-done"},
                {"shim: Create's answer", "agent-create-done", "create-done"},
                {"containerd: Create answered to Start received", "create-done", "start-received"},
                {"shim: Start to the agent call", "start-received", "agent-start-sent"},
                {"guest: crun start", "agent-start-sent", "agent-start-done"},
                {"shim: Start's answer", "agent-start-done", "start-done"}};
        Map<String, List<Double>> out = new LinkedHashMap<>();
        List<Double> own = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            Map<String, Long> m = byId.get("k" + i);
            if (m == null) continue;
            double shim = 0;
            for (String[] s : steps) {
                Long a = m.get(s[1]), b = m.get(s[2]);
                if (a == null || b == null) continue;
                double ms = (b - a) / 1e6;
                out.computeIfAbsent(s[0], k -> new ArrayList<>()).add(ms);
                if (s[0].startsWith("shim:")) shim += ms;
            }
            own.add(shim);
        }
        out.put("shim's own share (the shim: lines together)", own);
        return out;
    }

    private void memory(PrivateContainerd ctrd, String image) throws IOException, InterruptedException {
        System.err.println("kava bench ctr: starting " + pods + " pods for the memory figures");
        List<String> ids = new ArrayList<>();
        try {
            for (int i = 0; i < pods; i++) {
                String id = "m" + i;
                CommandResult r = ctrd.ctr("run", "-d", "--runtime", "io.containerd.kava.v2", image, id, "sleep", "3600");
                if (!r.ok()) throw new IllegalStateException("pod " + id + " failed: " + r);
                ids.add(id);
            }
            Thread.sleep(2000);
            Path stateRoot = ConfigLoader.load(null).runtime().stateDir();
            List<Double> shimRss = new ArrayList<>(), shimPss = new ArrayList<>(), vmPss = new ArrayList<>();
            for (String id : ids) {
                var st = SandboxState.load(stateRoot.resolve(ctrd.namespace() + "--" + id)).orElseThrow(
                        () -> new IllegalStateException("no sandbox state for " + id));
                shimRss.add(kib(st.ownerPid(), "/status", "VmRSS:") / 1024.0);
                shimPss.add(kib(st.ownerPid(), "/smaps_rollup", "Pss:") / 1024.0);
                vmPss.add(kib(st.vmPid(), "/smaps_rollup", "Pss:") / 1024.0);
            }
            double total = 0;
            for (int i = 0; i < ids.size(); i++) total += shimPss.get(i) + vmPss.get(i);
            System.out.printf("  host memory per pod with %d pods running (MiB, median): shim RSS %.1f, shim PSS %.1f, "
                    + "hypervisor PSS %.1f, shim+hypervisor PSS %.1f (all pods: %.0f)%n", ids.size(), median(shimRss),
                    median(shimPss), median(vmPss), median(shimPss) + median(vmPss), total);
        } finally {
            for (String id : ids) {
                ctrd.ctr("task", "kill", "-s", "SIGKILL", id);
            }
            for (String id : ids) {
                for (int i = 0; i < 50 && !ctrd.ctr("task", "rm", id).ok(); i++) Thread.sleep(100);
                ctrd.ctr("container", "rm", id);
            }
        }
    }

    private static long kib(long pid, String file, String key) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + file))) {
            if (l.startsWith(key)) return Long.parseLong(l.substring(key.length()).trim().split("\\s+")[0]);
        }
        return 0;
    }

    static double median(List<Double> v) {
        if (v.isEmpty()) return Double.NaN;
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }
}
