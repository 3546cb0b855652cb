package dev.kava.vmm.vcpu;

/** Why a vCPU stopped running its guest: the closed set the VM turns into its exit. */
public sealed interface VcpuEnd {
    /** The guest asked for a reset (i8042 reset line, a KVM reset event). */
    record Reset() implements VcpuEnd {}

    /** The guest powered off (a KVM shutdown event) or triple-faulted ({@code reboot=t}). */
    record Shutdown(String how) implements VcpuEnd {}

    /** KVM could not run the guest any more (entry failure, internal error, an unexpected exit). */
    record Failed(String why) implements VcpuEnd {}
}
