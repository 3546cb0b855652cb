package dev.kava.runtime.host;

import dev.kava.hypervisor.HypervisorProvider;
import dev.kava.runtime.config.KavaConfig;
import dev.kava.runtime.sandbox.Hypervisors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What this host can run and why: each check has a verdict and a reason an operator can act on.
 * {@code kava check} prints them; a {@link Verdict#FAIL} means kava cannot run containers here.
 */
public final class HostChecks {
    public enum Verdict { OK, INFO, WARN, FAIL }

    public record Check(String name, Verdict verdict, String detail) {}

    private HostChecks() {}

    public static List<Check> run(KavaConfig config) {
        List<Check> out = new ArrayList<>();
        out.add(root());
        out.addAll(virtualization());
        out.add(hypervisor(config));
        out.add(file("guest kernel", config.hypervisor().kernel()));
        out.add(file("guest image", config.hypervisor().image()));
        out.add(overlay());
        out.add(cgroups());
        out.add(stateDir(config.runtime().stateDir()));
        return out;
    }

    public static boolean canRun(List<Check> checks) {
        return checks.stream().noneMatch(c -> c.verdict() == Verdict.FAIL);
    }

    private static Check root() {
        boolean root = "root".equals(System.getProperty("user.name"));
        return new Check("privileges", root ? Verdict.OK : Verdict.FAIL,
                root ? "running as root" : "kava needs root (mounts, VM devices): run it with sudo");
    }

    /** Whether /dev/kvm is backed by hardware virtualization, PVM, or missing. */
    public static List<Check> virtualization() {
        List<Check> out = new ArrayList<>();
        boolean dev = Files.exists(Path.of("/dev/kvm"));
        boolean pvm = Files.isDirectory(Path.of("/sys/module/kvm_pvm"));
        String flags = cpuFlags();
        boolean hw = flags.contains(" vmx") || flags.contains(" svm");
        if (dev && hw && !pvm) {
            out.add(new Check("kvm", Verdict.OK, "/dev/kvm with hardware virtualization (" + (flags.contains(" vmx") ? "vmx" : "svm") + ")"));
        } else if (!dev) {
            out.add(new Check("kvm", Verdict.INFO, "no /dev/kvm: using qemu with TCG (software emulation, slower)"));
        } else if (pvm) {
            out.add(new Check("kvm", Verdict.INFO, "KVM is PVM: no hardware virtualization; using qemu with TCG (software emulation, slower)"));
        } else {
            out.add(new Check("kvm", Verdict.INFO, "/dev/kvm exists but the CPU shows no vmx/svm: no hardware virtualization; using qemu with TCG"));
        }
        return out;
    }

    private static Check hypervisor(KavaConfig config) {
        StringBuilder sb = new StringBuilder();
        for (HypervisorProvider p : Hypervisors.all()) {
            var a = p.availability();
            sb.append(sb.isEmpty() ? "" : "; ").append(p.name()).append(": ").append(a.reason());
        }
        Hypervisors.Choice chosen;
        try {
            chosen = Hypervisors.choose(config.hypervisor().name());
        } catch (RuntimeException e) {
            return new Check("hypervisor", Verdict.FAIL, e.getMessage());
        }
        return new Check("hypervisor", Verdict.OK, chosen.why() + " (hypervisor = \"" + config.hypervisor().name()
                + "\"; " + sb + ")");
    }

    private static Check file(String what, Path p) {
        if (Files.isRegularFile(p)) {
            try {
                return new Check(what, Verdict.OK, p + " (" + Files.size(p) / (1024 * 1024) + " MiB)");
            } catch (IOException e) {
                return new Check(what, Verdict.FAIL, p + ": " + e.getMessage());
            }
        }
        return new Check(what, Verdict.FAIL, p + " is missing: run ./kava once (it builds it), or set it in the configuration");
    }

    private static Check overlay() {
        try {
            boolean ok = Files.readString(Path.of("/proc/filesystems")).contains("\toverlay\n");
            return new Check("overlayfs", ok ? Verdict.OK : Verdict.WARN,
                    ok ? "available (container rootfs layers)" : "not listed in /proc/filesystems: modprobe overlay");
        } catch (IOException e) {
            return new Check("overlayfs", Verdict.WARN, "cannot read /proc/filesystems");
        }
    }

    private static Check cgroups() {
        boolean v2 = Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers"));
        boolean unified = Files.exists(Path.of("/sys/fs/cgroup/unified"));
        String layout = v2 ? "cgroup v2 (unified)" : unified ? "hybrid v1/v2" : "cgroup v1";
        return new Check("cgroups", Verdict.INFO, layout + " on the host; containers get cgroup v2 inside the guest");
    }

    private static Check stateDir(Path dir) {
        Path p = dir;
        while (p != null && !Files.exists(p)) p = p.getParent();
        boolean ok = p != null && Files.isWritable(p);
        return new Check("state directory", ok ? Verdict.OK : Verdict.FAIL, dir + (ok ? " is writable" : " is not writable"));
    }

    private static String cpuFlags() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) return line.substring(line.indexOf(':') + 1) + " ";
            }
        } catch (IOException e) {
            // no cpuinfo: no flags
        }
        return "";
    }
}
