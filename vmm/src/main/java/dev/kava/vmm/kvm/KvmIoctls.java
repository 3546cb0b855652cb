package dev.kava.vmm.kvm;

import static dev.kava.linux.Ioctls.io;
import static dev.kava.linux.Ioctls.ior;
import static dev.kava.linux.Ioctls.iow;
import static dev.kava.linux.Ioctls.iowr;

/**
 * The KVM ioctl numbers, encoded with {@link dev.kava.linux.Ioctls}' {@code _IOC} from the sizes of
 * the layouts in {@link KvmLayouts}; each is named after its C macro and checked against
 * {@code <linux/kvm.h>} by the layout test.
 */
final class KvmIoctls {
    static final int KVMIO = 0xAE;

    // /dev/kvm
    static final long KVM_GET_API_VERSION = io(KVMIO, 0x00);
    static final long KVM_CREATE_VM = io(KVMIO, 0x01);
    static final long KVM_CHECK_EXTENSION = io(KVMIO, 0x03);
    static final long KVM_GET_VCPU_MMAP_SIZE = io(KVMIO, 0x04);
    static final long KVM_GET_SUPPORTED_CPUID = iowr(KVMIO, 0x05, (int) KvmLayouts.KVM_CPUID2.byteSize());

    // VM
    static final long KVM_CREATE_VCPU = io(KVMIO, 0x41);
    static final long KVM_SET_USER_MEMORY_REGION = iow(KVMIO, 0x46, (int) KvmLayouts.KVM_USERSPACE_MEMORY_REGION.byteSize());
    static final long KVM_SET_TSS_ADDR = io(KVMIO, 0x47);
    static final long KVM_SET_IDENTITY_MAP_ADDR = iow(KVMIO, 0x48, 8);
    static final long KVM_CREATE_IRQCHIP = io(KVMIO, 0x60);
    static final long KVM_IRQ_LINE = iow(KVMIO, 0x61, (int) KvmLayouts.KVM_IRQ_LEVEL.byteSize());
    static final long KVM_IRQFD = iow(KVMIO, 0x76, (int) KvmLayouts.KVM_IRQFD.byteSize());
    static final long KVM_CREATE_PIT2 = iow(KVMIO, 0x77, (int) KvmLayouts.KVM_PIT_CONFIG.byteSize());
    static final long KVM_IOEVENTFD = iow(KVMIO, 0x79, (int) KvmLayouts.KVM_IOEVENTFD.byteSize());

    // vCPU
    static final long KVM_RUN = io(KVMIO, 0x80);
    static final long KVM_GET_REGS = ior(KVMIO, 0x81, (int) KvmLayouts.KVM_REGS.byteSize());
    static final long KVM_SET_REGS = iow(KVMIO, 0x82, (int) KvmLayouts.KVM_REGS.byteSize());
    static final long KVM_GET_SREGS = ior(KVMIO, 0x83, (int) KvmLayouts.KVM_SREGS.byteSize());
    static final long KVM_SET_SREGS = iow(KVMIO, 0x84, (int) KvmLayouts.KVM_SREGS.byteSize());
    static final long KVM_GET_MSRS = iowr(KVMIO, 0x88, (int) KvmLayouts.KVM_MSRS.byteSize());
    static final long KVM_SET_MSRS = iow(KVMIO, 0x89, (int) KvmLayouts.KVM_MSRS.byteSize());
    static final long KVM_SET_SIGNAL_MASK = iow(KVMIO, 0x8b, (int) KvmLayouts.KVM_SIGNAL_MASK.byteSize());
    static final long KVM_GET_FPU = ior(KVMIO, 0x8c, (int) KvmLayouts.KVM_FPU.byteSize());
    static final long KVM_SET_FPU = iow(KVMIO, 0x8d, (int) KvmLayouts.KVM_FPU.byteSize());
    static final long KVM_GET_LAPIC = ior(KVMIO, 0x8e, KvmConstants.KVM_APIC_REG_SIZE);
    static final long KVM_SET_LAPIC = iow(KVMIO, 0x8f, KvmConstants.KVM_APIC_REG_SIZE);
    static final long KVM_SET_CPUID2 = iow(KVMIO, 0x90, (int) KvmLayouts.KVM_CPUID2.byteSize());
    static final long KVM_GET_MP_STATE = ior(KVMIO, 0x98, 4);
    static final long KVM_SET_MP_STATE = iow(KVMIO, 0x99, 4);

    private KvmIoctls() {}
}
