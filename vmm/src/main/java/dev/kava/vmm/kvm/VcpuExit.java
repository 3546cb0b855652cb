package dev.kava.vmm.kvm;

/**
 * Why {@code KVM_RUN} returned: the closed set of exits this VMM handles. Port and MMIO reads are
 * completed with {@link KvmVcpu#completeRead} before the next run.
 */
public sealed interface VcpuExit {
    /** {@code OUT}/{@code OUTS}: {@code count} accesses of {@code size} bytes to {@code port}; {@code data} holds them all. */
    record IoOut(int port, int size, int count, byte[] data) implements VcpuExit {}

    /** {@code IN}/{@code INS}: {@code count} reads of {@code size} bytes from {@code port}. */
    record IoIn(int port, int size, int count) implements VcpuExit {}

    /** A store of {@code data} (1-8 bytes) to an address no memory slot covers. */
    record MmioWrite(long address, byte[] data) implements VcpuExit {}

    /** A load of {@code length} (1-8) bytes from an address no memory slot covers. */
    record MmioRead(long address, int length) implements VcpuExit {}

    /** {@code HLT} (only without the in-kernel irqchip, which halts in the kernel). */
    record Halted() implements VcpuExit {}

    /** A triple fault: the guest reset the machine the hard way. */
    record Shutdown() implements VcpuExit {}

    /** A system event ({@code KVM_SYSTEM_EVENT_*}: shutdown, reset, crash). */
    record SystemEvent(int type) implements VcpuExit {
        public static final int SHUTDOWN = KvmConstants.KVM_SYSTEM_EVENT_SHUTDOWN;
        public static final int RESET = KvmConstants.KVM_SYSTEM_EVENT_RESET;
        public static final int CRASH = KvmConstants.KVM_SYSTEM_EVENT_CRASH;
    }

    /** The run was interrupted (a kick: EINTR, or {@code KVM_EXIT_INTR}); nothing to do but look at the flags. */
    record Interrupted() implements VcpuExit {}

    /** The hardware refused to enter the guest (invalid guest state). */
    record FailEntry(long hardwareReason, int cpu) implements VcpuExit {}

    /** KVM could not handle something (an emulation failure, ...). */
    record InternalError(int suberror) implements VcpuExit {}

    /** Any other exit reason. */
    record Other(int reason) implements VcpuExit {}
}
