package dev.kava.vmm.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What this host's KVM can do, and why not: looked up in {@code /dev}, {@code /sys} and
 * {@code /proc} without opening anything (cheap; never throws).
 *
 * <ul>
 *   <li>{@link #usable()}: {@code /dev/kvm} exists and is read-write: small guest programs run
 *       (they do even under PVM, software nested virtualization).</li>
 *   <li>{@link #bootsLinux()}: additionally real hardware virtualization ({@code vmx} or
 *       {@code svm} in {@code /proc/cpuinfo}) and not PVM ({@code /sys/module/kvm_pvm} absent): a
 *       Linux guest boots. Under PVM it cannot (measured: CPL0 is emulated, ~1 µs per
 *       instruction, and hypercalls livelock).</li>
 * </ul>
 *
 * @param devKvm   {@code /dev/kvm} exists
 * @param readWrite it is readable and writable by this process
 * @param pvm      the kvm_pvm module is loaded
 * @param hardware {@code vmx} or {@code svm} is among the CPU flags (the flag's name, or null)
 */
public record KvmSupport(boolean devKvm, boolean readWrite, boolean pvm, String hardware) {
    private static final Pattern FLAGS = Pattern.compile("(?m)^flags\\s*:(.*)$");

    /** This host. */
    public static KvmSupport detect() {
        return detect(Path.of("/"));
    }

    /** Detection against a file-system root (tests fake {@code /dev}, {@code /sys}, {@code /proc}). */
    public static KvmSupport detect(Path root) {
        Path dev = root.resolve("dev/kvm");
        boolean exists = Files.exists(dev);
        boolean rw = exists && Files.isReadable(dev) && Files.isWritable(dev);
        boolean pvm = Files.isDirectory(root.resolve("sys/module/kvm_pvm"));
        String cpuinfo;
        try {
            cpuinfo = Files.readString(root.resolve("proc/cpuinfo"));
        } catch (IOException | RuntimeException e) {
            cpuinfo = "";
        }
        return new KvmSupport(exists, rw, pvm, hardwareFlag(cpuinfo));
    }

    static String hardwareFlag(String cpuinfo) {
        Matcher m = FLAGS.matcher(cpuinfo);
        if (!m.find()) {
            return null;
        }
        for (String flag : m.group(1).trim().split("\\s+")) {
            if (flag.equals("vmx") || flag.equals("svm")) {
                return flag;
            }
        }
        return null;
    }

    /** Whether KVM can be opened here (guest programs run, possibly under PVM). */
    public boolean usable() {
        return devKvm && readWrite;
    }

    /** Whether a Linux guest can boot here: hardware virtualization, not PVM. */
    public boolean bootsLinux() {
        return usable() && hardware != null && !pvm;
    }

    /** Why KVM cannot be used at all, or null when it can. */
    public String unusableReason() {
        if (!devKvm) {
            return "no /dev/kvm";
        }
        if (!readWrite) {
            return "/dev/kvm is not read-write for this user";
        }
        return null;
    }

    /** Why a Linux guest cannot boot here, or null when it can. */
    public String noLinuxReason() {
        String r = unusableReason();
        if (r != null) {
            return r;
        }
        if (pvm) {
            return "KVM is PVM: no hardware virtualization";
        }
        if (hardware == null) {
            return "no vmx or svm in /proc/cpuinfo: no hardware virtualization";
        }
        return null;
    }

    @Override
    public String toString() {
        String why = noLinuxReason();
        return why == null ? "KVM with hardware virtualization (" + hardware + ")" : why;
    }
}
