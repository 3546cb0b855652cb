package dev.kava.hypervisor;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * A hypervisor plugin, found with {@link ServiceLoader} (register the implementation in
 * {@code META-INF/services/dev.kava.hypervisor.HypervisorProvider}).
 */
public interface HypervisorProvider {

    /** The plugin's name in configuration, e.g. {@code "qemu"}. */
    String name();

    /** Whether this plugin can run VMs on this host, and why (or why not). Cheap; never throws. */
    Availability availability();

    /**
     * A hypervisor for one sandbox. Nothing is launched yet.
     *
     * @param sandboxId the sandbox id ({@code [A-Za-z0-9][A-Za-z0-9_.-]*})
     * @param stateDir a directory owned by the runtime ({@code /run/kava/<id>/}); the plugin puts its
     *                 sockets, pid file and logs there and removes what it created on close
     * @throws HypervisorException if the plugin is not available
     */
    Hypervisor create(String sandboxId, Path stateDir);

    /**
     * @param available the plugin can run VMs here
     * @param reason a human sentence: the remedy when unavailable ("qemu-system-x86_64 not found:
     *               apt-get install qemu-system-x86"), the mode when available ("TCG (no hardware
     *               virtualization: KVM is PVM)")
     */
    record Availability(boolean available, String reason) {
        public Availability {
            Objects.requireNonNull(reason, "reason");
        }
    }

    /** What a sandbox id may look like: it names directories, sockets and QEMU objects. */
    String SANDBOX_ID = "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}";

    /**
     * The checks every {@link #create} starts with: non-null arguments and a sandbox id matching
     * {@link #SANDBOX_ID}; a bad one is a {@link HypervisorException} naming the rule.
     */
    static void checkCreateArguments(String sandboxId, Path stateDir) {
        Objects.requireNonNull(sandboxId, "sandboxId");
        Objects.requireNonNull(stateDir, "stateDir");
        if (!sandboxId.matches(SANDBOX_ID)) {
            throw new HypervisorException("bad sandbox id '" + sandboxId + "': " + SANDBOX_ID);
        }
    }

    /** Every provider on the class path. */
    static List<HypervisorProvider> load() {
        return ServiceLoader.load(HypervisorProvider.class).stream().map(ServiceLoader.Provider::get).toList();
    }

    /** The provider called {@code name}, if any. */
    static Optional<HypervisorProvider> find(String name) {
        return load().stream().filter(p -> p.name().equals(name)).findFirst();
    }
}
