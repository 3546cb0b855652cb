package dev.kava.cli;

import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.HypervisorProvider;
import dev.kava.hypervisor.VmConfig;
import dev.kava.runtime.sandbox.SandboxCleaner;
import dev.kava.vmm.VmSpec;
import dev.kava.vmm.Vmm;
import dev.kava.vmm.kvm.KvmSupport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kava bench vmm}: the built-in VMM against the qemu plugin, in the same run, on the same
 * guest: a program of a few instructions that writes one byte to the serial port and halts (for
 * the builtin VMM entered in 64-bit mode, for QEMU as a PVH ELF entered in 32-bit mode). Figures:
 * <ul>
 *   <li>create to the first guest output: from asking for a VM to the guest's first instruction
 *       having run (its byte is on the console);</li>
 *   <li>create + run + destroy cycles per second;</li>
 *   <li>host memory (RSS) per idle VM with {@code --vms} of them alive, guest RAM untouched.</li>
 * </ul>
 * Where the builtin VMM cannot run (no /dev/kvm) its figures are not measured, and the output
 * says why; nothing is estimated.
 */
@Command(name = "vmm", description = "Built-in VMM vs the qemu plugin: create to first guest instruction, create+run+destroy per second, RSS per idle VM.")
final class VmmBench implements Callable<Integer> {
    /** {@code mov $0x3f8,%dx; mov $'!',%al; out %al,%dx; cli; hlt; jmp .-1}: the same bytes in 32- and 64-bit mode. */
    static final byte[] PROGRAM = HexFormat.of().parseHex("66baf803b021eefaf4ebfd");
    static final long PROGRAM_ADDRESS = 0x100000;

    @Option(names = {"-n", "--cycles"}, defaultValue = "20", description = "create/run/destroy cycles of each (default: ${DEFAULT-VALUE})")
    int cycles;

    @Option(names = "--vms", defaultValue = "100", description = "idle VMs alive at once for the RSS figure (default: ${DEFAULT-VALUE})")
    int vms;

    @Option(names = "--memory-mib", defaultValue = "128", description = "guest RAM of each VM (default: ${DEFAULT-VALUE})")
    int memoryMiB;

    /** One plugin's figures; NaN where not measured. */
    record Figures(double firstOutputMs, double firstRunMs, double cyclesPerSecond, double rssPerVmMiB) {}

    @Override
    public Integer call() throws Exception {
        Path tmp = Files.createTempDirectory("kava-bench-vmm");
        try {
            KvmSupport kvm = KvmSupport.detect();
            Figures builtin = null;
            String builtinWhy = kvm.unusableReason();
            if (builtinWhy == null) {
                builtin = builtin(tmp.resolve("builtin"));
            }
            Figures qemu = qemu(tmp.resolve("qemu"));
            System.out.printf("kava bench vmm: %d cycles, %d idle VMs of %d MiB, medians%n", cycles, vms, memoryMiB);
            System.out.printf("  %-40s %18s %18s%n", "", "builtin", "qemu plugin");
            row("create to first guest output (ms)", builtin == null ? Double.NaN : builtin.firstOutputMs(), qemu.firstOutputMs(), "%.1f");
            row("create to first KVM_RUN (ms)", builtin == null ? Double.NaN : builtin.firstRunMs(), Double.NaN, "%.2f");
            row("create+run+destroy per second", builtin == null ? Double.NaN : builtin.cyclesPerSecond(), qemu.cyclesPerSecond(), "%.1f");
            row("host RSS per idle VM at " + vms + " VMs (MiB)", builtin == null ? Double.NaN : builtin.rssPerVmMiB(), qemu.rssPerVmMiB(), "%.1f");
            if (builtin == null) {
                System.out.println("  builtin: cannot be measured here: " + builtinWhy + " (the built-in VMM runs guests on KVM only)");
            } else if (!kvm.bootsLinux()) {
                System.out.println("  builtin: measured under " + kvm + ": guest programs run, a Linux guest would not");
            }
            System.out.println("  qemu plugin: " + HypervisorProvider.find("qemu").map(p -> p.availability().reason()).orElse("?"));
            return 0;
        } finally {
            SandboxCleaner.deleteTree(tmp);
        }
    }

    private static void row(String name, double builtin, double qemu, String format) {
        System.out.printf("  %-40s %18s %18s%n", name, Double.isNaN(builtin) ? "n/a" : String.format(format, builtin),
                Double.isNaN(qemu) ? "-" : String.format(format, qemu));
    }

    // ---------------------------------------------------------------- builtin

    private Figures builtin(Path dir) throws Exception {
        Files.createDirectories(dir);
        List<Double> firstOutput = new ArrayList<>();
        List<Double> firstRun = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < cycles; i++) {
            Path console = dir.resolve("console-" + i);
            long start = System.nanoTime();
            try (Vmm vm = builtinVm(console)) {
                vm.start();
                awaitOutput(console, Duration.ofSeconds(30), "builtin VM " + i);
                firstOutput.add(ms(System.nanoTime() - start));
                firstRun.add(vm.createToFirstEntryNanos() / 1e6);
            }
        }
        double perSecond = cycles / ((System.nanoTime() - t0) / 1e9);
        long before = rssKiB(ProcessHandle.current().pid());
        List<Vmm> alive = new ArrayList<>();
        try {
            for (int i = 0; i < vms; i++) {
                Path console = dir.resolve("idle-" + i);
                Vmm vm = builtinVm(console);
                alive.add(vm);
                vm.start();
                awaitOutput(console, Duration.ofSeconds(30), "idle builtin VM " + i);
            }
            long after = rssKiB(ProcessHandle.current().pid());
            return new Figures(median(firstOutput), median(firstRun), perSecond, (after - before) / 1024.0 / vms);
        } finally {
            alive.forEach(Vmm::close);
        }
    }

    private Vmm builtinVm(Path console) {
        return Vmm.create(new VmSpec(1, (long) memoryMiB << 20, new VmSpec.Program(PROGRAM, PROGRAM_ADDRESS, false),
                List.of(), VmSpec.SerialConsole.toFile(console), false));
    }

    // ---------------------------------------------------------------- qemu

    private Figures qemu(Path dir) throws Exception {
        Files.createDirectories(dir);
        HypervisorProvider provider = HypervisorProvider.find("qemu")
                .orElseThrow(() -> new IllegalStateException("no qemu plugin on the class path"));
        if (!provider.availability().available()) {
            throw new IllegalStateException("qemu is not available: " + provider.availability().reason());
        }
        Path kernel = dir.resolve("program.elf");
        Files.write(kernel, pvhElf(PROGRAM, PROGRAM_ADDRESS + 0x100));
        Path root = dir.resolve("empty.img");
        Files.write(root, new byte[4096]);
        List<Double> firstOutput = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < cycles; i++) {
            Path console = dir.resolve("console-" + i);
            long start = System.nanoTime();
            try (Hypervisor vm = provider.create("bench-vmm-" + i, dir.resolve("state-" + i))) {
                vm.prepare(new VmConfig(1, memoryMiB, kernel, root, List.of(), console, false));
                vm.start(Duration.ofSeconds(30));
                awaitOutput(console, Duration.ofSeconds(30), "qemu VM " + i);
                firstOutput.add(ms(System.nanoTime() - start));
            }
        }
        double perSecond = cycles / ((System.nanoTime() - t0) / 1e9);
        List<Hypervisor> alive = new ArrayList<>();
        try {
            long total = 0;
            for (int i = 0; i < vms; i++) {
                Path console = dir.resolve("idle-" + i);
                Hypervisor vm = provider.create("bench-idle-" + i, dir.resolve("idle-state-" + i));
                alive.add(vm);
                vm.prepare(new VmConfig(1, memoryMiB, kernel, root, List.of(), console, false));
                vm.start(Duration.ofSeconds(30));
                awaitOutput(console, Duration.ofSeconds(30), "idle qemu VM " + i);
            }
            for (Hypervisor vm : alive) {
                total += rssKiB(vm.pid().orElseThrow());
            }
            return new Figures(median(firstOutput), Double.NaN, perSecond, total / 1024.0 / vms);
        } finally {
            alive.forEach(Hypervisor::close);
        }
    }

    /**
     * A 32-bit ELF with one loadable segment ({@code code} at {@code entry}) and the PVH entry note
     * ({@code XEN_ELFNOTE_PHYS32_ENTRY}), which QEMU's microvm boots in 32-bit protected mode.
     */
    static byte[] pvhElf(byte[] code, long entry) {
        ByteBuffer b = ByteBuffer.allocate(0x100 + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 1, 1, 1, 0}).put(new byte[8]);
        b.putShort((short) 2).putShort((short) 3).putInt(1).putInt((int) entry).putInt(52).putInt(0).putInt(0)
                .putShort((short) 52).putShort((short) 32).putShort((short) 2).putShort((short) 0).putShort((short) 0)
                .putShort((short) 0);
        b.putInt(1).putInt(0x100).putInt((int) entry).putInt((int) entry).putInt(code.length).putInt(code.length)
                .putInt(5).putInt(0x100);                                        // PT_LOAD, R+X
        b.putInt(4).putInt(0x80).putInt(0).putInt(0).putInt(20).putInt(20).putInt(4).putInt(4); // PT_NOTE
        b.position(0x80);
        b.putInt(4).putInt(4).putInt(18).put(new byte[] {'X', 'e', 'n', 0}).putInt((int) entry);
        b.position(0x100);
        b.put(code);
        return b.array();
    }

    // ---------------------------------------------------------------- helpers

    private static void awaitOutput(Path console, Duration timeout, String what) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!Files.exists(console) || Files.size(console) == 0) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + " printed nothing within " + timeout.toSeconds() + " s");
            }
            Thread.sleep(0, 200_000);
        }
    }

    static long rssKiB(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }

    private static double median(List<Double> v) {
        List<Double> s = v.stream().sorted().toList();
        return s.isEmpty() ? Double.NaN : s.get(s.size() / 2);
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
