package dev.kava.runtime.sandbox;

import dev.kava.hypervisor.HypervisorProvider;
import dev.kava.runtime.KavaException;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Chooses the hypervisor plugin named in the configuration; "auto" takes the first available. */
public final class Hypervisors {
    /** Preference order for "auto": the in-process VMM first, once it exists, then qemu. */
    private static final List<String> AUTO_ORDER = List.of("builtin", "qemu");

    private Hypervisors() {}

    public static List<HypervisorProvider> all() {
        List<HypervisorProvider> out = new ArrayList<>();
        ServiceLoader.load(HypervisorProvider.class).forEach(out::add);
        return out;
    }

    public static HypervisorProvider select(String name) {
        List<HypervisorProvider> all = all();
        if (name.equals("auto")) {
            StringBuilder why = new StringBuilder();
            for (String n : AUTO_ORDER) {
                for (HypervisorProvider p : all) {
                    if (p.name().equals(n)) {
                        var a = p.availability();
                        if (a.available()) return p;
                        why.append("\n  ").append(n).append(": ").append(a.reason());
                    }
                }
            }
            throw new KavaException("no hypervisor is available on this host:" + why);
        }
        for (HypervisorProvider p : all) {
            if (p.name().equals(name)) {
                var a = p.availability();
                if (!a.available()) throw new KavaException("hypervisor " + name + " is not available: " + a.reason());
                return p;
            }
        }
        throw new KavaException("no hypervisor named \"" + name + "\" (available: "
                + all.stream().map(HypervisorProvider::name).toList() + ")");
    }
}
