package dev.kava.vmm;

/** How a VM ended: the closed set {@link Vmm#exit()} completes with. */
public sealed interface VmExit {
    /** The guest rebooted (i8042 reset, {@code reboot=k}): for a sandbox VM, the end. */
    record GuestReset() implements VmExit {}

    /** The guest powered off or triple-faulted ({@code reboot=t}). */
    record GuestShutdown(String how) implements VmExit {}

    /** The host stopped it ({@link Vmm#stop()}). */
    record Stopped() implements VmExit {}

    /** KVM could not run it any more. */
    record Failed(String why) implements VmExit {}
}
