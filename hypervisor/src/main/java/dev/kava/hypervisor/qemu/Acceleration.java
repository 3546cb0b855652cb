package dev.kava.hypervisor.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How QEMU runs guest code on this host.
 *
 * <p>KVM only when the host has <em>real</em> hardware virtualization: {@code /dev/kvm} is there and
 * usable, {@code vmx} or {@code svm} is in {@code /proc/cpuinfo}, and KVM is not PVM (no
 * {@code /sys/module/kvm_pvm}; PVM cannot boot a Linux guest). Otherwise TCG.
 *
 * <p>Under TCG, QEMU's guest TSC is the host's TSC (TCG's {@code rdtsc} reads the host counter), but
 * a microvm guest has no way to calibrate it (no PIT/HPET/ACPI PM timer to compare with), so the
 * kernel is told with {@code tsc_early_khz}. The host TSC frequency comes from, in this order:
 * <ol>
 *   <li>{@code /sys/devices/system/cpu/cpu0/tsc_freq_khz} (exact, but only some kernels have it);</li>
 *   <li>{@code cpu MHz} of the first CPU in {@code /proc/cpuinfo}: on the VMs and cpufreq-less hosts
 *       where TCG is the fallback this is the kernel's calibrated TSC (here 2096.039 MHz, matching
 *       the kernel's "Refined TSC clocksource calibration");</li>
 *   <li>the nominal {@code @ x.yzGHz} of the model name (the TSC rate on Intel CPUs).</li>
 * </ol>
 * "cpu MHz" goes before the model name because the model name often has no frequency (AMD, cloud
 * VMs: here it is just "AMD EPYC"). Under TCG the kernel also gets {@code tsc=reliable}.
 *
 * @param kvm run with {@code -accel kvm}
 * @param reason a sentence for {@code Availability.reason()}
 * @param tscKhz the host TSC in kHz, 0 when unknown
 */
record Acceleration(boolean kvm, String reason, long tscKhz) {

    private static final Pattern FLAGS = Pattern.compile("(?m)^flags\\s*:(.*)$");
    private static final Pattern CPU_MHZ = Pattern.compile("(?m)^cpu MHz\\s*:\\s*([0-9]+(?:\\.[0-9]+)?)\\s*$");
    private static final Pattern MODEL_GHZ = Pattern.compile("(?m)^model name\\s*:.*?([0-9]+(?:\\.[0-9]+)?)\\s*GHz");

    static Acceleration detect() {
        return detect(Path.of("/"));
    }

    /** Detection against a file-system root, so that tests can fake {@code /proc}, {@code /sys} and {@code /dev}. */
    static Acceleration detect(Path root) {
        String cpuinfo = read(root.resolve("proc/cpuinfo"));
        Path kvmDev = root.resolve("dev/kvm");
        long tscKhz = tscKhz(root, cpuinfo);
        String why;
        if (!Files.exists(kvmDev)) {
            why = "/dev/kvm is missing";
        } else if (Files.isDirectory(root.resolve("sys/module/kvm_pvm"))) {
            why = "KVM is PVM";
        } else if (!hasHardwareVirtualization(cpuinfo)) {
            why = "no vmx or svm in /proc/cpuinfo";
        } else if (!Files.isReadable(kvmDev) || !Files.isWritable(kvmDev)) {
            why = "/dev/kvm is not read-write for this user";
        } else {
            return new Acceleration(true, "KVM", tscKhz);
        }
        String tsc = tscKhz > 0 ? "" : "; host TSC frequency unknown, the guest may hang at boot";
        return new Acceleration(false, "TCG (no hardware virtualization: " + why + ")" + tsc, tscKhz);
    }

    /** Kernel parameters this acceleration needs. */
    List<String> kernelParams() {
        if (kvm) return List.of();
        // the guest TSC is the host's: reliable, so no clocksource watchdog (which under TCG on a
        // loaded host can declare it unstable and fall back to a jiffies clock)
        return tscKhz > 0 ? List.of("tsc_early_khz=" + tscKhz, "tsc=reliable") : List.of("tsc=reliable");
    }

    /**
     * TCG's translation cache is capped at 64 MiB: QEMU's default grows towards 1 GiB, and a sandbox's
     * guest translates far less; measured here, the cap cut QEMU's resident set by ~35 MiB per VM
     * (265 -> 231 MiB at agent ready) without slowing the boot.
     */
    List<String> qemuArgs() {
        return kvm ? List.of("-accel", "kvm", "-cpu", "host") : List.of("-accel", "tcg,thread=multi,tb-size=64", "-cpu", "max");
    }

    static boolean hasHardwareVirtualization(String cpuinfo) {
        Matcher m = FLAGS.matcher(cpuinfo);
        if (!m.find()) return false;
        for (String flag : m.group(1).trim().split("\\s+")) {
            if (flag.equals("vmx") || flag.equals("svm")) return true;
        }
        return false;
    }

    static long tscKhz(Path root, String cpuinfo) {
        String sysfs = read(root.resolve("sys/devices/system/cpu/cpu0/tsc_freq_khz")).trim();
        if (sysfs.matches("[0-9]+") && Long.parseLong(sysfs) > 0) return Long.parseLong(sysfs);
        Matcher mhz = CPU_MHZ.matcher(cpuinfo);
        if (mhz.find()) {
            long khz = Math.round(Double.parseDouble(mhz.group(1)) * 1000);
            if (khz > 0) return khz;
        }
        Matcher ghz = MODEL_GHZ.matcher(cpuinfo);
        if (ghz.find()) return Math.round(Double.parseDouble(ghz.group(1)) * 1_000_000);
        return 0;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
