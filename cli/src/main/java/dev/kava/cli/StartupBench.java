package dev.kava.cli;

import dev.kava.hypervisor.VmConfig;
import dev.kava.runtime.config.KavaConfig;
import dev.kava.runtime.sandbox.Hypervisors;
import dev.kava.runtime.sandbox.SandboxCleaner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code kava bench startup}: wall time of {@code ./kava run --rm busybox echo hello} to its first
 * output and to its exit, split by the run's own timeline, median of N runs; and as a baseline the
 * same kernel booted by the same QEMU command line to a shell init that prints a line and reboots.
 */
@Command(name = "startup", description = "Start-up time of kava run vs the same kernel booted to a shell init.")
final class StartupBench implements Callable<Integer> {
    @Mixin
    ConfigOption config;

    @Option(names = {"-n", "--runs"}, defaultValue = "5", description = "runs of each (default: ${DEFAULT-VALUE})")
    int runs;

    private static final List<String[]> SPLITS = List.of(
            new String[] {"JVM start to sandbox start (CLI, image)", "", "sandbox-start"},
            new String[] {"VM launch (QEMU up, QMP answers)", "sandbox-start", "vm-started"},
            new String[] {"VM boot to agent ready", "vm-started", "agent-ready"},
            new String[] {"sandbox setup (clock, shared fs mount)", "agent-ready", "sandbox-ready"},
            new String[] {"agent to container start (create+start)", "sandbox-ready", "container-started"},
            new String[] {"container start to first output", "container-started", "first-output"},
            new String[] {"teardown (remove, destroy, unmount)", "container-done", "sandbox-closed"});

    @Override
    public Integer call() throws Exception {
        KavaConfig cfg = config.load();
        Path home = Path.of(System.getProperty("kava.home", "."));
        Path launcher = home.resolve("kava");
        if (!Files.isExecutable(launcher)) {
            throw new IllegalStateException("cannot find the kava launcher at " + launcher + " (run this through ./kava)");
        }
        Path tmp = Files.createTempDirectory("kava-bench");
        try {
            List<Double> first = new ArrayList<>(), exit = new ArrayList<>(), beforeMain = new ArrayList<>();
            Map<String, List<Double>> split = new LinkedHashMap<>();
            String figures = "";
            for (int i = 0; i < runs; i++) {
                Path timeline = tmp.resolve("timeline"), fig = tmp.resolve("figures");
                ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "run", "--rm", "busybox", "echo", "hello");
                if (config.file != null) pb.command().add(2, "--config=" + config.file);
                pb.environment().put("KAVA_TIMELINE", timeline.toString());
                pb.environment().put("KAVA_FIGURES", fig.toString());
                pb.redirectError(ProcessBuilder.Redirect.INHERIT);
                pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
                long t0 = System.nanoTime();
                Process p = pb.start();
                InputStream out = p.getInputStream();
                int b = out.read();
                long tFirst = System.nanoTime();
                out.transferTo(java.io.OutputStream.nullOutputStream());
                if (!p.waitFor(120, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new IllegalStateException("kava run did not finish within 120 s");
                }
                long tExit = System.nanoTime();
                if (b < 0 || p.exitValue() != 0) throw new IllegalStateException("kava run failed (exit " + p.exitValue() + ")");
                Map<String, Double> marks = parse(Files.readString(timeline));
                first.add(ms(tFirst - t0));
                exit.add(ms(tExit - t0));
                beforeMain.add(ms(tFirst - t0) - marks.getOrDefault("first-output", 0.0));
                for (String[] s : SPLITS) {
                    double from = s[1].isEmpty() ? 0 : marks.getOrDefault(s[1], Double.NaN);
                    split.computeIfAbsent(s[0], k -> new ArrayList<>()).add(marks.getOrDefault(s[2], Double.NaN) - from);
                }
                figures = Files.readString(fig).strip();
                System.err.printf("run %d: first output %.0f ms, exit %.0f ms%n", i + 1, ms(tFirst - t0), ms(tExit - t0));
            }
            List<Double> baseBoot = new ArrayList<>(), baseExit = new ArrayList<>();
            Path img = baselineImage(tmp);
            for (int i = 0; i < runs; i++) {
                double[] r = baseline(cfg, img, tmp.resolve("vm" + i));
                baseBoot.add(r[0]);
                baseExit.add(r[1]);
            }
            System.out.printf("kava bench startup: %d runs each, medians in ms (hypervisor %s)%n", runs, Hypervisors.select(cfg.hypervisor().name()).name());
            System.out.printf("  kava run --rm busybox echo hello: first output %8.0f   exit %8.0f%n", median(first), median(exit));
            System.out.printf("  baseline (same kernel, shell init): init output %8.0f   exit %8.0f%n", median(baseBoot), median(baseExit));
            System.out.printf("  kava overhead over the baseline:   first output %8.0f   (x%.2f)%n", median(first) - median(baseBoot), median(first) / median(baseBoot));
            System.out.println("  split of kava run:");
            System.out.printf("    %-44s %8.0f%n", "launcher script and JVM start before main", median(beforeMain));
            for (var e : split.entrySet()) System.out.printf("    %-44s %8.0f%n", e.getKey(), median(e.getValue()));
            System.out.println("  memory of the last run, container exited, VM still up: " + figures);
            return 0;
        } finally {
            SandboxCleaner.deleteTree(tmp);
        }
    }

    /** Boots the configured kernel with a root that only prints a line and reboots: [ms to the line, ms to exit]. */
    private static double[] baseline(KavaConfig cfg, Path image, Path stateDir) throws Exception {
        Files.createDirectories(stateDir);
        var h = cfg.hypervisor();
        var provider = Hypervisors.select(h.name());
        Path console = stateDir.resolve("console.log");
        try (var vm = provider.create("bench-" + stateDir.getFileName(), stateDir)) {
            vm.prepare(new VmConfig(h.vcpus(), h.memoryMiB(), h.kernel(), image, List.of(), console, false));
            long t0 = System.nanoTime();
            vm.start(h.bootTimeout());
            double seen = Double.NaN;
            long deadline = t0 + h.bootTimeout().toNanos();
            while (System.nanoTime() < deadline) {
                if (Files.exists(console) && Files.readString(console, StandardCharsets.ISO_8859_1).contains("KAVA-BASELINE-INIT")) {
                    seen = ms(System.nanoTime() - t0);
                    break;
                }
                Thread.sleep(2);
            }
            vm.exited().get(h.bootTimeout().toSeconds(), TimeUnit.SECONDS);
            double done = ms(System.nanoTime() - t0);
            if (Double.isNaN(seen)) throw new IllegalStateException("the baseline guest printed nothing: see " + console);
            return new double[] {seen, done};
        } finally {
            SandboxCleaner.deleteTree(stateDir);
        }
    }

    private static Path baselineImage(Path tmp) throws IOException, InterruptedException {
        Path root = tmp.resolve("baseline-root");
        for (String d : List.of("bin", "sbin", "dev", "proc", "sys")) Files.createDirectories(root.resolve(d));
        Files.copy(Path.of("/bin/busybox"), root.resolve("bin/busybox"));
        Files.createSymbolicLink(root.resolve("bin/sh"), Path.of("busybox"));
        Path init = root.resolve("sbin/init");
        Files.writeString(init, "#!/bin/busybox sh\n/bin/busybox echo KAVA-BASELINE-INIT\n/bin/busybox reboot -f\n");
        init.toFile().setExecutable(true, false);
        Path img = tmp.resolve("baseline.img");
        Process p = new ProcessBuilder("mkfs.ext4", "-q", "-F", "-d", root.toString(), img.toString(), "8M")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IOException("mkfs.ext4 failed: " + out);
        return img;
    }

    private static Map<String, Double> parse(String line) {
        Map<String, Double> m = new HashMap<>();
        for (String kv : line.strip().split(" ")) {
            int eq = kv.indexOf('=');
            if (eq > 0) m.put(kv.substring(0, eq), Double.parseDouble(kv.substring(eq + 1)));
        }
        return m;
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static double median(List<Double> v) {
        List<Double> s = v.stream().sorted().toList();
        int n = s.size();
        return n == 0 ? Double.NaN : n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }
}
