package dev.kava.vmm.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.Memory;
import dev.kava.linux.SystemCalls;
import dev.kava.vmm.VmmException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One virtual CPU (kvm-ioctls' {@code VcpuFd}): its registers, CPUID, MSRs, local APIC, and
 * {@link #run()}, which enters the guest until the next exit.
 *
 * <h2>Threads</h2>
 * {@link #run()} blocks in the kernel for as long as the guest runs: call it from a platform
 * thread, the vCPU's own. Register access is for that thread too (or before it starts).
 * {@link #requestImmediateExit} may be called from any thread; together with a signal (see
 * {@link dev.kava.linux.ThreadSignals}) it is how other threads get the vCPU out of the guest.
 */
public final class KvmVcpu implements AutoCloseable {
    private final int id;
    private final Fd fd;
    private final Memory runMapping;
    private final KvmRun run;

    KvmVcpu(int id, Fd fd, Memory runMapping) {
        this.id = id;
        this.fd = fd;
        this.runMapping = runMapping;
        this.run = new KvmRun(runMapping.segment());
    }

    public int id() {
        return id;
    }

    /**
     * {@code KVM_RUN}: runs the guest until it exits to us. EINTR (a kick, or
     * {@code immediate_exit}) and EAGAIN are {@link VcpuExit.Interrupted}; other failures throw.
     */
    public VcpuExit run() {
        try {
            SystemCalls.ioctl(fd.value(), KvmIoctls.KVM_RUN, 0);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EINTR || e.errno() == Errno.EAGAIN) {
                return new VcpuExit.Interrupted();
            }
            throw new VmmException("KVM_RUN on vCPU " + id + ": " + e.getMessage(), e);
        }
        return run.exit();
    }

    /** Completes the port or MMIO read of the last exit with {@code data} (see {@link VcpuExit}). */
    public void completeRead(byte[] data) {
        run.completeRead(data);
    }

    /** Sets {@code kvm_run.immediate_exit}: the next (or current entry to) KVM_RUN returns EINTR. */
    public void requestImmediateExit(boolean exit) {
        run.requestImmediateExit(exit);
    }

    public Registers registers() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(KvmLayouts.KVM_REGS);
            ioctl("KVM_GET_REGS", KvmIoctls.KVM_GET_REGS, s);
            return KvmStructs.registers(s);
        }
    }

    public void setRegisters(Registers r) {
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_SET_REGS", KvmIoctls.KVM_SET_REGS, KvmStructs.registers(arena, r));
        }
    }

    public SpecialRegisters specialRegisters() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(KvmLayouts.KVM_SREGS);
            ioctl("KVM_GET_SREGS", KvmIoctls.KVM_GET_SREGS, s);
            return KvmStructs.specialRegisters(s);
        }
    }

    public void setSpecialRegisters(SpecialRegisters r) {
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_SET_SREGS", KvmIoctls.KVM_SET_SREGS, KvmStructs.specialRegisters(arena, r));
        }
    }

    /** {@code KVM_SET_FPU} with the given x87 control word and MXCSR, everything else zero. */
    public void setFpu(int fcw, int mxcsr) {
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_SET_FPU", KvmIoctls.KVM_SET_FPU, KvmStructs.fpu(arena, fcw, mxcsr));
        }
    }

    /** {@code KVM_SET_CPUID2}. */
    public void setCpuid(List<CpuidEntry> entries) {
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_SET_CPUID2", KvmIoctls.KVM_SET_CPUID2, KvmStructs.cpuid(arena, entries, entries.size()));
        }
    }

    /** {@code KVM_SET_MSRS}; fails unless KVM took every entry. */
    public void setMsrs(List<MsrEntry> entries) {
        try (Arena arena = Arena.ofConfined()) {
            int n = SystemCalls.ioctl(fd.value(), KvmIoctls.KVM_SET_MSRS, KvmStructs.msrs(arena, entries));
            if (n != entries.size()) {
                throw new VmmException("KVM_SET_MSRS took " + n + " of " + entries.size() + " MSRs; the first refused: 0x"
                        + Integer.toHexString(entries.get(n).index()));
            }
        } catch (ErrnoException e) {
            throw new VmmException("KVM_SET_MSRS: " + e.getMessage(), e);
        }
    }

    /** {@code KVM_GET_MSRS} of the given indexes. */
    public List<MsrEntry> msrs(List<Integer> indexes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = KvmStructs.msrs(arena, indexes.stream().map(i -> new MsrEntry(i, 0)).toList());
            int n = SystemCalls.ioctl(fd.value(), KvmIoctls.KVM_GET_MSRS, s);
            return KvmStructs.msrs(s, n);
        } catch (ErrnoException e) {
            throw new VmmException("KVM_GET_MSRS: " + e.getMessage(), e);
        }
    }

    /** {@code KVM_GET_LAPIC}: the local APIC's 1 KiB register page. */
    public byte[] lapic() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(KvmConstants.KVM_APIC_REG_SIZE);
            ioctl("KVM_GET_LAPIC", KvmIoctls.KVM_GET_LAPIC, s);
            return s.toArray(JAVA_BYTE);
        }
    }

    /** {@code KVM_SET_LAPIC}. */
    public void setLapic(byte[] regs) {
        if (regs.length != KvmConstants.KVM_APIC_REG_SIZE) {
            throw new IllegalArgumentException("the LAPIC page has " + KvmConstants.KVM_APIC_REG_SIZE + " bytes");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(KvmConstants.KVM_APIC_REG_SIZE);
            MemorySegment.copy(regs, 0, s, JAVA_BYTE, 0, regs.length);
            ioctl("KVM_SET_LAPIC", KvmIoctls.KVM_SET_LAPIC, s);
        }
    }

    /**
     * Makes the vCPU runnable at once ({@code KVM_SET_MP_STATE} RUNNABLE). Application processors
     * otherwise wait for INIT/SIPI from the boot processor, as Linux sends them.
     */
    public void setRunnable() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(KvmLayouts.KVM_MP_STATE);
            s.set(JAVA_INT, 0, KvmConstants.KVM_MP_STATE_RUNNABLE);
            ioctl("KVM_SET_MP_STATE", KvmIoctls.KVM_SET_MP_STATE, s);
        }
    }

    /**
     * {@code KVM_SET_SIGNAL_MASK}: the signals blocked while the guest runs (the kernel's 64-bit
     * set); the kick signal must not be in it, so that it interrupts KVM_RUN.
     */
    public void setSignalMask(long mask) {
        try (Arena arena = Arena.ofConfined()) {
            ioctl("KVM_SET_SIGNAL_MASK", KvmIoctls.KVM_SET_SIGNAL_MASK, KvmStructs.signalMask(arena, mask));
        }
    }

    private void ioctl(String what, long request, MemorySegment arg) {
        try {
            SystemCalls.ioctl(fd.value(), request, arg);
        } catch (ErrnoException e) {
            throw new VmmException(what + " on vCPU " + id + ": " + e.getMessage(), e);
        }
    }

    /** Unmaps {@code kvm_run} and closes the vCPU; only once its thread has stopped running it. */
    @Override
    public void close() {
        runMapping.close();
        fd.close();
    }
}
