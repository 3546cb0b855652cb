package dev.kava.cli;

import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.VmConfig;
import dev.kava.runtime.config.KavaConfig;
import dev.kava.runtime.sandbox.Hypervisors;
import dev.kava.runtime.sandbox.SandboxCleaner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code kava bench fs}: kava's virtio-fs server against QEMU's virtio-9p, in one guest (the kava
 * guest kernel, under the QEMU the qemu plugin runs) that mounts the same host directory through
 * both, with the options kava uses for each (virtio-fs with {@code hypervisor.virtio_fs_cache}; 9p
 * as the agent mounted it: {@code msize=262144,cache=mmap}). The guest is a busybox shell init
 * that times, in rounds alternating between the two mounts, with its caches dropped before each
 * step: a sequential write and read of one large file ({@code dd bs=1M}), small-file creates (a
 * shell loop of {@code : > f$i}, no fork per file), a {@code stat} of each of them, and a
 * {@code find} over a tree of 10,000 files the host made. The best round of each figure counts
 * (the machine may be busy with other work). A last column runs the same steps on the guest's own
 * tmpfs (a tree it made itself): the guest's page cache alone, with no device behind it, which is
 * the ceiling for a cached mount on this CPU; it takes no part in the ratios.
 */
@Command(name = "fs", description = "kava's virtio-fs vs QEMU's virtio-9p on the same host directory, in one guest.")
final class FsBench implements Callable<Integer> {
    @Mixin
    ConfigOption config;

    @Option(names = {"-n", "--rounds"}, defaultValue = "2", description = "rounds per file system; the best counts (default: ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--size-mib", defaultValue = "256", description = "size of the sequential file (default: ${DEFAULT-VALUE})")
    int sizeMiB;

    @Option(names = "--files", defaultValue = "2000", description = "small files created and stat'ed (default: ${DEFAULT-VALUE})")
    int files;

    @Option(names = "--tree", defaultValue = "10000", description = "files in the tree find walks (default: ${DEFAULT-VALUE})")
    int tree;

    @Option(names = {"-v", "--verbose"}, description = "also print every round's seconds, to show the spread")
    boolean verbose;

    @Option(names = "--dir", paramLabel = "DIR", description = "host directory to share (default: a new one under /var/tmp)")
    Path dir;

    @Option(names = "--cache", paramLabel = "MODE", description = "virtio-fs cache mode: none, auto, always (default: hypervisor.virtio_fs_cache)")
    String cache;

    @Option(names = "--guest-setup", paramLabel = "SHELL", hidden = true,
            description = "shell commands the guest runs after mounting, before measuring (for experiments)")
    String guestSetup = "";

    private static final String TAG_VIRTIO_FS = "benchvfs";
    private static final String TAG_VIRTIO_FS_NONE = "benchvfsnone";
    private static final String TAG_9P = "bench9p";
    private static final String MARK = "KAVA-BENCH";

    /** One column: a mount of the shared directory in the guest (or the guest's tmpfs, for reference). */
    private record Column(String name, String title, String mount) {}

    /** One figure: its name, its unit, and how a round's seconds become it (higher is better). */
    private record Figure(String step, String label, String unit) {}

    private List<Figure> figures() {
        return List.of(
                new Figure("write", "sequential write, " + sizeMiB + " MiB file", "MiB/s"),
                new Figure("read", "sequential read, " + sizeMiB + " MiB file", "MiB/s"),
                new Figure("create", "small-file creates, " + files + " files", "files/s"),
                new Figure("stat", "stat, " + files + " files", "stats/s"),
                new Figure("find", "find over " + tree + " files", "entries/s"));
    }

    @Override
    public Integer call() throws Exception {
        KavaConfig cfg = config.load();
        var h = cfg.hypervisor();
        Device.SharedFs.Cache mode = cacheMode(cache != null ? cache : h.virtioFsCache().key());
        List<Column> columns = columns(mode);
        var provider = Hypervisors.select("qemu"); // 9p is QEMU's: both run under the same QEMU
        Path work = Files.createTempDirectory(Path.of("/var/tmp"), "kava-bench-fs");
        Path shared = dir != null ? Files.createDirectories(dir) : Files.createDirectories(work.resolve("shared"));
        Path state = Files.createDirectories(cfg.runtime().stateDir()).resolve("bench-fs-" + ProcessHandle.current().pid());
        try {
            System.err.println("kava bench fs: preparing " + tree + " files on the host and the guest image");
            makeTree(shared.resolve("tree"));
            Path image = guestImage(work, columns);
            Files.createDirectories(state);
            Path console = state.resolve("console.log");
            long t0 = System.nanoTime();
            Map<String, List<Double>> seconds = new LinkedHashMap<>();
            try (Hypervisor vm = provider.create("bench-fs-" + ProcessHandle.current().pid(), state)) {
                vm.prepare(new VmConfig(h.vcpus(), Math.max(h.memoryMiB(), 512), h.kernel(), image, List.of(), console, false));
                vm.addDevice(new Device.SharedFs(TAG_VIRTIO_FS, shared, Device.SharedFs.Kind.VIRTIO_FS, mode));
                if (mode != Device.SharedFs.Cache.NONE) {
                    vm.addDevice(new Device.SharedFs(TAG_VIRTIO_FS_NONE, shared, Device.SharedFs.Kind.VIRTIO_FS, Device.SharedFs.Cache.NONE));
                }
                vm.addDevice(new Device.SharedFs(TAG_9P, shared, Device.SharedFs.Kind.NINE_P));
                System.err.println("kava bench fs: running " + rounds + " rounds per file system in the guest (a few minutes under TCG)");
                vm.start(h.bootTimeout());
                long limit = 120L + rounds * columns.size() * (40L + sizeMiB / 3);
                Integer code = vm.exited().get(limit, TimeUnit.SECONDS);
                vm.stop(Duration.ofSeconds(2));
                if (code == null) throw new IllegalStateException("the guest did not finish");
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("the benchmark guest did not finish in time; see " + console);
            }
            String out = Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
            for (String line : out.lines().toList()) {
                int at = line.indexOf(MARK + " ");
                if (at < 0) continue;
                String[] w = line.substring(at + MARK.length() + 1).trim().split("\\s+");
                if (w[0].equals("error")) throw new IllegalStateException("the benchmark guest failed: " + line.substring(at));
                if (w.length >= 4) seconds.computeIfAbsent(w[0] + " " + w[2], k -> new ArrayList<>()).add(Double.parseDouble(w[3]));
            }
            if (!out.contains(MARK + " done")) {
                throw new IllegalStateException("the benchmark guest did not finish; console:\n" + tail(out));
            }
            print(seconds, columns, shared, (System.nanoTime() - t0) / 1e9);
            return 0;
        } finally {
            SandboxCleaner.deleteTree(state);
            SandboxCleaner.deleteTree(work);
            if (dir != null) {
                SandboxCleaner.deleteTree(dir.resolve("tree"));
                for (Column c : columns) SandboxCleaner.deleteTree(dir.resolve("work-" + c.name()));
            }
        }
    }

    /** kava's virtio-fs in the configured mode, also without cache unless that is the mode, and QEMU's 9p. */
    private static List<Column> columns(Device.SharedFs.Cache mode) {
        String m = mode.name().toLowerCase(java.util.Locale.ROOT);
        List<Column> c = new ArrayList<>();
        c.add(new Column("vfs", "virtio-fs " + m, "mount -t virtiofs " + TAG_VIRTIO_FS + " /mnt/vfs"));
        if (mode != Device.SharedFs.Cache.NONE) {
            c.add(new Column("vfsnone", "virtio-fs none", "mount -t virtiofs " + TAG_VIRTIO_FS_NONE + " /mnt/vfsnone"));
        }
        c.add(new Column("9p", "9p", "mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=mmap " + TAG_9P + " /mnt/9p"));
        c.add(new Column("tmpfs", "guest tmpfs", "mount -t tmpfs -o size=90% tmp /mnt/tmpfs"));
        return c;
    }

    private void print(Map<String, List<Double>> seconds, List<Column> columns, Path shared, double wall) {
        System.out.printf("kava bench fs: kava's virtio-fs vs QEMU's virtio-9p (msize=262144, cache=mmap, as kava mounted it)%n");
        System.out.printf("  one guest (%s), all mounts of %s; best of %d rounds; %.0f s in all%n",
                "kava guest kernel, qemu plugin", shared, rounds, wall);
        StringBuilder head = new StringBuilder(String.format("  %-40s", ""));
        for (Column c : columns) head.append(String.format(" %15s", c.title()));
        List<Column> compared = columns.stream().filter(c -> c.name().startsWith("vfs")).toList(); // not 9p, not tmpfs
        for (Column c : compared) head.append(String.format(" %15s", c.title().replace("virtio-fs ", "ratio ")));
        System.out.println(head);
        for (Figure f : figures()) {
            StringBuilder row = new StringBuilder(String.format("  %-40s", f.label() + " (" + f.unit() + ")"));
            double ninep = rate(f, seconds.get("9p " + f.step()));
            List<Double> rates = new ArrayList<>();
            for (Column c : columns) {
                double r = rate(f, seconds.get(c.name() + " " + f.step()));
                rates.add(r);
                row.append(String.format(" %15s", fmt(r)));
            }
            for (int i = 0; i < compared.size(); i++) row.append(String.format(" %14.2fx", rates.get(i) / ninep));
            System.out.println(row);
        }
        if (verbose) {
            System.out.println("  every round, seconds:");
            for (Figure f : figures()) {
                StringBuilder row = new StringBuilder(String.format("  %-40s", f.label()));
                for (Column c : columns) {
                    List<Double> secs = seconds.getOrDefault(c.name() + " " + f.step(), List.of());
                    row.append(String.format(" %15s", String.join(" ", secs.stream().map(v -> String.format("%.2f", v)).toList())));
                }
                System.out.println(row);
            }
        }
        System.out.println("  (each figure: amount / the best round's seconds, timed in the guest; ratio = virtio-fs / 9p;");
        System.out.println("   guest tmpfs: the guest's page cache with no device behind it, the ceiling of a cached mount here)");
    }

    /** The best round as a rate: units of work per second. */
    private double rate(Figure f, List<Double> secs) {
        if (secs == null || secs.isEmpty()) return Double.NaN;
        double best = secs.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
        double amount = switch (f.step()) {
            case "write", "read" -> sizeMiB;
            case "find" -> tree;
            default -> files;
        };
        return amount / Math.max(best, 0.01);
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : v >= 100 ? String.format("%.0f", v) : String.format("%.1f", v);
    }

    private static Device.SharedFs.Cache cacheMode(String name) {
        return switch (name) {
            case "none" -> Device.SharedFs.Cache.NONE;
            case "auto" -> Device.SharedFs.Cache.AUTO;
            case "always" -> Device.SharedFs.Cache.ALWAYS;
            default -> throw new dev.kava.runtime.KavaException("--cache must be none, auto or always, not \"" + name + "\"");
        };
    }

    /** {@code tree} empty files in directories of 100, as a package tree would be. */
    private void makeTree(Path root) throws IOException {
        SandboxCleaner.deleteTree(root);
        for (int i = 0; i < tree; i++) {
            Path d = root.resolve(String.format("d%03d", i / 100));
            if (i % 100 == 0) Files.createDirectories(d);
            Files.createFile(d.resolve(String.format("f%05d", i)));
        }
    }

    private String script(List<Column> columns) {
        return """
                #!/bin/sh
                export PATH=/bin
                mount -t proc proc /proc
                mount -t sysfs sys /sys
                mount -t tmpfs mnt /mnt
                @MOUNTS@
                i=0; while [ $i -lt @TREE@ ]; do d=/mnt/tmpfs/tree/d$((i / 100)); [ $((i % 100)) -eq 0 ] && mkdir -p $d; : > $d/f$i; i=$((i+1)); done
                @SETUP@
                now() { cut -d' ' -f1 /proc/uptime; }
                since() { echo "$(now) $1" | awk '{ printf "%.2f", $1 - $2 }'; }
                drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
                bench() {
                  fs=$1; r=$2; D=/mnt/$fs/work-$fs
                  rm -rf $D; mkdir -p $D/c; drop
                  t=$(now); dd if=/dev/zero of=$D/big bs=1M count=@MIB@ 2>/dev/null || echo "@MARK@ error: write on $fs"
                  echo "@MARK@ $fs $r write $(since $t)"
                  drop
                  t=$(now); dd if=$D/big of=/dev/null bs=1M 2>/dev/null || echo "@MARK@ error: read on $fs"
                  echo "@MARK@ $fs $r read $(since $t)"
                  rm -f $D/big
                  t=$(now); i=0; while [ $i -lt @FILES@ ]; do : > $D/c/f$i; i=$((i+1)); done
                  echo "@MARK@ $fs $r create $(since $t)"
                  drop
                  t=$(now); stat -c %s $D/c/* > /dev/null || echo "@MARK@ error: stat on $fs"
                  echo "@MARK@ $fs $r stat $(since $t)"
                  drop
                  t=$(now); n=$(find /mnt/$fs/tree | wc -l)
                  echo "@MARK@ $fs $r find $(since $t) $n"
                  rm -rf $D
                }
                r=1
                while [ $r -le @ROUNDS@ ]; do for fs in @NAMES@; do bench $fs $r; done; r=$((r+1)); done
                echo "@MARK@ done"
                for fs in @NAMES@; do umount /mnt/$fs; done
                reboot -f
                """.replace("@MOUNTS@", String.join("\n", columns.stream().map(c -> "mkdir -p /mnt/" + c.name() + "; " + c.mount()
                        + " || echo \"@MARK@ error: " + c.mount() + " failed\"").toList()))
                .replace("@NAMES@", String.join(" ", columns.stream().map(Column::name).toList()))
                .replace("@MARK@", MARK)
                .replace("@MIB@", Integer.toString(sizeMiB)).replace("@FILES@", Integer.toString(files))
                .replace("@ROUNDS@", Integer.toString(rounds)).replace("@TREE@", Integer.toString(tree)).replace("@SETUP@", guestSetup);
    }

    /** A small ext4 root: static busybox and the benchmark as /sbin/init. */
    private Path guestImage(Path work, List<Column> columns) throws IOException, InterruptedException {
        Path root = work.resolve("root");
        for (String d : List.of("bin", "sbin", "dev", "proc", "sys", "mnt", "tmp")) Files.createDirectories(root.resolve(d));
        Files.copy(Path.of("/bin/busybox"), root.resolve("bin/busybox"));
        Process list = new ProcessBuilder("/bin/busybox", "--list").start();
        for (String applet : new String(list.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
            if (!applet.isBlank() && !applet.equals("busybox")) Files.createSymbolicLink(root.resolve("bin").resolve(applet.strip()), Path.of("busybox"));
        }
        list.waitFor();
        Path init = root.resolve("sbin/init");
        Files.writeString(init, script(columns));
        init.toFile().setExecutable(true, false);
        Path img = work.resolve("bench-root.img");
        Process p = new ProcessBuilder("mkfs.ext4", "-q", "-F", "-d", root.toString(), img.toString(), "16M").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IOException("mkfs.ext4 failed: " + out);
        return img;
    }

    private static String tail(String s) {
        List<String> lines = s.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    }
}
