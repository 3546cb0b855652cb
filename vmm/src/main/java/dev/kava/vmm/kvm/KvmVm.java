package dev.kava.vmm.kvm;

import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.Memory;
import dev.kava.linux.SystemCalls;
import dev.kava.vmm.VmmException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One KVM virtual machine (kvm-ioctls' {@code VmFd}): guest memory slots, the in-kernel interrupt
 * controllers and PIT, irqfds and ioeventfds, and its vCPUs. Thread-safe (KVM serializes these
 * ioctls); close it after its vCPUs.
 */
public final class KvmVm implements AutoCloseable {
    /** Where KVM puts the TSS it needs for real mode on Intel: three pages below 4 GiB, in the MMIO gap. */
    public static final long TSS_ADDRESS = 0xfffb_d000L;
    /** The identity-map page KVM needs on Intel without unrestricted guest, just below the TSS. */
    public static final long IDENTITY_MAP_ADDRESS = 0xfffb_c000L;

    private final Kvm kvm;
    private final Fd fd;

    KvmVm(Kvm kvm, Fd fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    public Kvm kvm() {
        return kvm;
    }

    /**
     * {@code KVM_SET_USER_MEMORY_REGION}: guest physical {@code [guestAddress, +size)} is this
     * process's memory at {@code userAddress} (a page-aligned mapping that outlives the VM).
     */
    public void setMemoryRegion(int slot, long guestAddress, long size, long userAddress) {
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_SET_USER_MEMORY_REGION slot " + slot, KvmIoctls.KVM_SET_USER_MEMORY_REGION,
                    KvmStructs.memoryRegion(arena, slot, guestAddress, size, userAddress));
        }
    }

    /** The x86 set-up every VM needs before vCPUs: TSS and identity-map pages, PIC + IOAPIC, PIT. */
    public void createPlatform() {
        longIoctl("KVM_SET_TSS_ADDR", KvmIoctls.KVM_SET_TSS_ADDR, TSS_ADDRESS);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_LONG, IDENTITY_MAP_ADDRESS);
            ioctl("KVM_SET_IDENTITY_MAP_ADDR", KvmIoctls.KVM_SET_IDENTITY_MAP_ADDR, addr);
        }
        longIoctl("KVM_CREATE_IRQCHIP", KvmIoctls.KVM_CREATE_IRQCHIP, 0);
        try (Arena arena = Arena.ofConfined()) {
            // the speaker port (0x61) is emulated as a dummy: a guest cannot make the host beep
            ioctl("KVM_CREATE_PIT2", KvmIoctls.KVM_CREATE_PIT2, KvmStructs.pitConfig(arena, KvmConstants.KVM_PIT_SPEAKER_DUMMY));
        }
    }

    /** {@code KVM_IRQFD}: writing to {@code eventfd} raises GSI {@code gsi} (an edge) without an exit. */
    public void registerIrqfd(Fd eventfd, int gsi) {
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_IRQFD gsi " + gsi, KvmIoctls.KVM_IRQFD, KvmStructs.irqfd(arena, eventfd.value(), gsi, 0));
        }
    }

    /** Undoes {@link #registerIrqfd}. */
    public void unregisterIrqfd(Fd eventfd, int gsi) {
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_IRQFD deassign gsi " + gsi, KvmIoctls.KVM_IRQFD,
                    KvmStructs.irqfd(arena, eventfd.value(), gsi, KvmConstants.KVM_IRQFD_FLAG_DEASSIGN));
        }
    }

    /**
     * {@code KVM_IOEVENTFD}: a guest write of {@code length} bytes equal to {@code datamatch} to
     * MMIO address {@code address} (or I/O port, with {@code pio}) signals {@code eventfd} inside
     * the kernel instead of exiting to us.
     */
    public void registerIoeventfd(Fd eventfd, long address, int length, long datamatch, boolean pio) {
        int flags = KvmConstants.KVM_IOEVENTFD_FLAG_DATAMATCH | (pio ? KvmConstants.KVM_IOEVENTFD_FLAG_PIO : 0);
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_IOEVENTFD 0x" + Long.toHexString(address), KvmIoctls.KVM_IOEVENTFD,
                    KvmStructs.ioeventfd(arena, address, length, eventfd.value(), flags, datamatch));
        }
    }

    /** Undoes {@link #registerIoeventfd} (the same arguments). */
    public void unregisterIoeventfd(Fd eventfd, long address, int length, long datamatch, boolean pio) {
        int flags = KvmConstants.KVM_IOEVENTFD_FLAG_DATAMATCH | KvmConstants.KVM_IOEVENTFD_FLAG_DEASSIGN
                | (pio ? KvmConstants.KVM_IOEVENTFD_FLAG_PIO : 0);
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_IOEVENTFD deassign 0x" + Long.toHexString(address), KvmIoctls.KVM_IOEVENTFD,
                    KvmStructs.ioeventfd(arena, address, length, eventfd.value(), flags, datamatch));
        }
    }

    /** {@code KVM_CREATE_VCPU} with APIC id {@code id}, its {@code kvm_run} mapped. */
    public KvmVcpu createVcpu(int id) {
        int raw;
        try {
            raw = SystemCalls.ioctl(fd.value(), KvmIoctls.KVM_CREATE_VCPU, id);
        } catch (ErrnoException e) {
            throw new VmmException("KVM_CREATE_VCPU " + id + ": " + e.getMessage(), e);
        }
        Fd vcpu = Fd.adopt(raw);
        try {
            Memory run = Memory.shared(vcpu, 0, kvm.vcpuMmapSize(), Memory.PROT_READ | Memory.PROT_WRITE);
            return new KvmVcpu(id, vcpu, run);
        } catch (RuntimeException e) {
            vcpu.close();
            throw new VmmException("mapping kvm_run of vCPU " + id + ": " + e.getMessage(), e);
        }
    }

    private void ioctl(String what, long request, MemorySegment arg) {
        try {
            SystemCalls.ioctl(fd.value(), request, arg);
        } catch (ErrnoException e) {
            throw new VmmException(what + ": " + e.getMessage(), e);
        }
    }

    private void longIoctl(String what, long request, long arg) {
        try {
            SystemCalls.ioctl(fd.value(), request, arg);
        } catch (ErrnoException e) {
            throw new VmmException(what + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
