package dev.kava.hypervisor.builtin;

import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.HypervisorException;
import dev.kava.hypervisor.HypervisorProvider;
import dev.kava.vmm.kvm.KvmSupport;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The {@code builtin} plugin: the VM runs inside this JVM on KVM ({@link dev.kava.vmm.Vmm}), no
 * child process. Available only where a Linux guest can boot: {@code /dev/kvm} read-write, real
 * hardware virtualization ({@code vmx}/{@code svm}) and not PVM.
 */
public final class BuiltinProvider implements HypervisorProvider {
    public static final String NAME = "builtin";

    private final Supplier<KvmSupport> host;

    /** Detects this host (for {@link java.util.ServiceLoader}). */
    public BuiltinProvider() {
        this(KvmSupport::detect);
    }

    /** Uses {@code host} for availability (tests fake hosts). */
    public BuiltinProvider(Supplier<KvmSupport> host) {
        this.host = Objects.requireNonNull(host, "host");
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Availability availability() {
        KvmSupport s;
        try {
            s = host.get();
        } catch (RuntimeException e) {
            return new Availability(false, "cannot inspect KVM: " + e.getMessage());
        }
        String why = s.noLinuxReason();
        if (why != null) {
            return new Availability(false, why + ": the built-in VMM needs hardware virtualization");
        }
        return new Availability(true, "in-process VMM on " + s);
    }

    @Override
    public Hypervisor create(String sandboxId, Path stateDir) {
        HypervisorProvider.checkCreateArguments(sandboxId, stateDir);
        Availability a = availability();
        if (!a.available()) {
            throw new HypervisorException("the builtin hypervisor is not available: " + a.reason());
        }
        return new BuiltinHypervisor(sandboxId, stateDir);
    }
}
