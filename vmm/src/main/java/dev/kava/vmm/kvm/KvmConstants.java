package dev.kava.vmm.kvm;

/**
 * Constants of {@code <linux/kvm.h>}, each named exactly after its C macro (the layout test checks
 * every one of them against the header with gcc).
 */
final class KvmConstants {
    static final int KVM_API_VERSION = 12;

    /** Capabilities ({@code KVM_CHECK_EXTENSION}). */
    static final int KVM_CAP_IRQCHIP = 0;
    static final int KVM_CAP_HLT = 1;
    static final int KVM_CAP_USER_MEMORY = 3;
    static final int KVM_CAP_SET_TSS_ADDR = 4;
    static final int KVM_CAP_EXT_CPUID = 7;
    static final int KVM_CAP_NR_VCPUS = 9;
    static final int KVM_CAP_IRQFD = 32;
    static final int KVM_CAP_PIT2 = 33;
    static final int KVM_CAP_IOEVENTFD = 36;
    static final int KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
    static final int KVM_CAP_MAX_VCPUS = 66;
    static final int KVM_CAP_TSC_DEADLINE_TIMER = 72;
    static final int KVM_CAP_IMMEDIATE_EXIT = 136;

    /** {@code kvm_run.exit_reason}. */
    static final int KVM_EXIT_UNKNOWN = 0;
    static final int KVM_EXIT_EXCEPTION = 1;
    static final int KVM_EXIT_IO = 2;
    static final int KVM_EXIT_HYPERCALL = 3;
    static final int KVM_EXIT_DEBUG = 4;
    static final int KVM_EXIT_HLT = 5;
    static final int KVM_EXIT_MMIO = 6;
    static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    static final int KVM_EXIT_SHUTDOWN = 8;
    static final int KVM_EXIT_FAIL_ENTRY = 9;
    static final int KVM_EXIT_INTR = 10;
    static final int KVM_EXIT_INTERNAL_ERROR = 17;
    static final int KVM_EXIT_SYSTEM_EVENT = 24;
    static final int KVM_EXIT_IO_IN = 0;
    static final int KVM_EXIT_IO_OUT = 1;

    /** {@code kvm_run.system_event.type}. */
    static final int KVM_SYSTEM_EVENT_SHUTDOWN = 1;
    static final int KVM_SYSTEM_EVENT_RESET = 2;
    static final int KVM_SYSTEM_EVENT_CRASH = 3;

    /** {@code struct kvm_mp_state}. */
    static final int KVM_MP_STATE_RUNNABLE = 0;
    static final int KVM_MP_STATE_UNINITIALIZED = 1;

    /** Flags of {@code struct kvm_ioeventfd}, {@code struct kvm_irqfd}, {@code struct kvm_pit_config}. */
    static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
    static final int KVM_IOEVENTFD_FLAG_PIO = 2;
    static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 4;
    static final int KVM_IRQFD_FLAG_DEASSIGN = 1;
    static final int KVM_PIT_SPEAKER_DUMMY = 1;

    /** {@code KVM_NR_INTERRUPTS} of {@code <asm/kvm.h>}; {@code KVM_APIC_REG_SIZE}. */
    static final int KVM_NR_INTERRUPTS = 256;
    static final int KVM_APIC_REG_SIZE = 0x400;

    private KvmConstants() {}
}
