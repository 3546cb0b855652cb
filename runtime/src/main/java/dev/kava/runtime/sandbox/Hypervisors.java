package dev.kava.runtime.sandbox;

import dev.kava.hypervisor.HypervisorProvider;
import dev.kava.runtime.KavaException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * Chooses the hypervisor plugin named in the configuration; "auto" takes the first available of
 * {@link #AUTO_ORDER}: the in-process VMM where hardware virtualization works (KVM, vmx/svm, not
 * PVM), qemu otherwise. {@link #choose} also says why.
 */
public final class Hypervisors {
    /** Preference order for "auto": the in-process VMM first, then qemu. */
    private static final List<String> AUTO_ORDER = List.of("builtin", "qemu");
    /**
     * Plugins "auto" passes over even where they are available, and why: VirtSandbox reaches the agent over a
     * serial port, and the built-in VMM offers hybrid vsock only. Naming the plugin in the configuration still
     * selects it.
     */
    private static final Map<String, String> NOT_YET_USABLE = Map.of("builtin",
            "is not used by \"auto\" yet: the runtime reaches the agent over a serial port, which it does not have");

    /**
     * The plugin chosen and why, e.g. {@code "no /dev/kvm: using qemu with TCG"} or
     * {@code "KVM is PVM: no hardware virtualization; using qemu with TCG"}.
     */
    public record Choice(HypervisorProvider provider, String why) {}

    private Hypervisors() {}

    public static List<HypervisorProvider> all() {
        List<HypervisorProvider> out = new ArrayList<>();
        ServiceLoader.load(HypervisorProvider.class).forEach(out::add);
        return out;
    }

    public static HypervisorProvider select(String name) {
        return choose(name).provider();
    }

    /** {@link #select}, with the reason for the choice (for logs and {@code kava check}). */
    public static Choice choose(String name) {
        List<HypervisorProvider> all = all();
        if (name.equals("auto")) {
            StringBuilder why = new StringBuilder();
            String passedOver = null;
            for (String n : AUTO_ORDER) {
                for (HypervisorProvider p : all) {
                    if (p.name().equals(n)) {
                        var a = p.availability();
                        if (a.available() && NOT_YET_USABLE.containsKey(n)) {
                            // available on this host, but the sandbox cannot run on it yet: say so, go on
                            if (passedOver == null) {
                                passedOver = n + " " + NOT_YET_USABLE.get(n);
                            }
                            why.append("\n  ").append(n).append(": ").append(NOT_YET_USABLE.get(n));
                            continue;
                        }
                        if (a.available()) {
                            String mode = a.reason().startsWith("TCG") ? " with TCG" : a.reason().startsWith("KVM") ? " with KVM" : "";
                            return new Choice(p, passedOver == null ? "using " + n + ": " + a.reason()
                                    : passedOver + (passedOver.contains(":") ? "; " : ": ") + "using " + n + mode);
                        }
                        if (passedOver == null) {
                            passedOver = cause(a.reason());
                        }
                        why.append("\n  ").append(n).append(": ").append(a.reason());
                    }
                }
            }
            throw new KavaException("no hypervisor is available on this host:" + why);
        }
        for (HypervisorProvider p : all) {
            if (p.name().equals(name)) {
                var a = p.availability();
                if (!a.available()) {
                    throw new KavaException("hypervisor " + name + " is not available: " + a.reason());
                }
                return new Choice(p, "using " + name + " (configured): " + a.reason());
            }
        }
        throw new KavaException("no hypervisor named \"" + name + "\" (available: "
                + all.stream().map(HypervisorProvider::name).toList() + ")");
    }

    /** The cause part of an availability reason: "no /dev/kvm: the built-in VMM needs ..." gives "no /dev/kvm". */
    private static String cause(String reason) {
        int cut = reason.lastIndexOf(": the built-in VMM");
        return cut > 0 ? reason.substring(0, cut) : reason;
    }
}
