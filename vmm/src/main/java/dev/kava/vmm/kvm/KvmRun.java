package dev.kava.vmm.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;

/**
 * A vCPU's {@code struct kvm_run}, the page KVM shares with us ({@code mmap} of the vCPU fd): why
 * the last {@code KVM_RUN} returned, and where port and MMIO data go. Decoding is pure (tests
 * feed it a segment of their own). Only the vCPU's thread reads and writes it, except
 * {@link #requestImmediateExit}, a byte store any thread may make.
 *
 * <p>The contents come from the kernel, not the guest, but sizes and offsets are still checked
 * against the mapping before use: a bad value is an {@link VcpuExit.InternalError}-like
 * {@link VcpuExit.Other}, never an exception.
 */
final class KvmRun {
    private final MemorySegment run;

    KvmRun(MemorySegment run) {
        if (run.byteSize() < KvmLayouts.RUN_MIN_SIZE) {
            throw new IllegalArgumentException("kvm_run mapping of " + run.byteSize() + " bytes is too small");
        }
        this.run = run;
    }

    /** Sets or clears {@code immediate_exit}: KVM_RUN returns EINTR at once while it is set. */
    void requestImmediateExit(boolean exit) {
        run.set(JAVA_BYTE, KvmLayouts.RUN_IMMEDIATE_EXIT, (byte) (exit ? 1 : 0));
    }

    boolean immediateExitRequested() {
        return run.get(JAVA_BYTE, KvmLayouts.RUN_IMMEDIATE_EXIT) != 0;
    }

    int exitReason() {
        return run.get(JAVA_INT, KvmLayouts.RUN_EXIT_REASON);
    }

    /** Decodes the exit KVM_RUN just reported. */
    VcpuExit exit() {
        int reason = exitReason();
        return switch (reason) {
            case KvmConstants.KVM_EXIT_IO -> io();
            case KvmConstants.KVM_EXIT_MMIO -> mmio();
            case KvmConstants.KVM_EXIT_HLT -> new VcpuExit.Halted();
            case KvmConstants.KVM_EXIT_SHUTDOWN -> new VcpuExit.Shutdown();
            case KvmConstants.KVM_EXIT_INTR -> new VcpuExit.Interrupted();
            case KvmConstants.KVM_EXIT_SYSTEM_EVENT -> new VcpuExit.SystemEvent(run.get(JAVA_INT, KvmLayouts.RUN_SYSTEM_EVENT_TYPE));
            case KvmConstants.KVM_EXIT_FAIL_ENTRY -> new VcpuExit.FailEntry(run.get(JAVA_LONG, KvmLayouts.RUN_FAIL_ENTRY_REASON),
                    run.get(JAVA_INT, KvmLayouts.RUN_FAIL_ENTRY_CPU));
            case KvmConstants.KVM_EXIT_INTERNAL_ERROR -> new VcpuExit.InternalError(run.get(JAVA_INT, KvmLayouts.RUN_INTERNAL_SUBERROR));
            default -> new VcpuExit.Other(reason);
        };
    }

    private VcpuExit io() {
        int direction = run.get(JAVA_BYTE, KvmLayouts.RUN_IO_DIRECTION) & 0xff;
        int size = run.get(JAVA_BYTE, KvmLayouts.RUN_IO_SIZE) & 0xff;
        int port = run.get(JAVA_SHORT, KvmLayouts.RUN_IO_PORT) & 0xffff;
        long count = Integer.toUnsignedLong(run.get(JAVA_INT, KvmLayouts.RUN_IO_COUNT));
        long offset = run.get(JAVA_LONG, KvmLayouts.RUN_IO_DATA_OFFSET);
        long bytes = size * count;
        if ((size != 1 && size != 2 && size != 4) || count == 0 || offset < 0 || offset > run.byteSize() - bytes) {
            return new VcpuExit.Other(KvmConstants.KVM_EXIT_IO);
        }
        if (direction == KvmConstants.KVM_EXIT_IO_OUT) {
            byte[] data = new byte[(int) bytes];
            MemorySegment.copy(run, JAVA_BYTE, offset, data, 0, data.length);
            return new VcpuExit.IoOut(port, size, (int) count, data);
        }
        return new VcpuExit.IoIn(port, size, (int) count);
    }

    private VcpuExit mmio() {
        long address = run.get(JAVA_LONG, KvmLayouts.RUN_MMIO_PHYS_ADDR);
        int len = run.get(JAVA_INT, KvmLayouts.RUN_MMIO_LEN);
        if (len < 1 || len > 8) {
            return new VcpuExit.Other(KvmConstants.KVM_EXIT_MMIO);
        }
        if (run.get(JAVA_BYTE, KvmLayouts.RUN_MMIO_IS_WRITE) != 0) {
            byte[] data = new byte[len];
            MemorySegment.copy(run, JAVA_BYTE, KvmLayouts.RUN_MMIO_DATA, data, 0, len);
            return new VcpuExit.MmioWrite(address, data);
        }
        return new VcpuExit.MmioRead(address, len);
    }

    /**
     * Completes the read of the last exit (an {@link VcpuExit.IoIn} or {@link VcpuExit.MmioRead})
     * with {@code data}, which KVM hands to the guest on the next KVM_RUN. Extra bytes are ignored,
     * missing ones are zero.
     */
    void completeRead(byte[] data) {
        int reason = exitReason();
        if (reason == KvmConstants.KVM_EXIT_IO) {
            int size = run.get(JAVA_BYTE, KvmLayouts.RUN_IO_SIZE) & 0xff;
            long count = Integer.toUnsignedLong(run.get(JAVA_INT, KvmLayouts.RUN_IO_COUNT));
            long offset = run.get(JAVA_LONG, KvmLayouts.RUN_IO_DATA_OFFSET);
            long bytes = size * count;
            if (offset < 0 || bytes > run.byteSize() || offset > run.byteSize() - bytes) {
                return;
            }
            run.asSlice(offset, bytes).fill((byte) 0);
            MemorySegment.copy(data, 0, run, JAVA_BYTE, offset, (int) Math.min(bytes, data.length));
        } else if (reason == KvmConstants.KVM_EXIT_MMIO) {
            int len = Math.clamp(run.get(JAVA_INT, KvmLayouts.RUN_MMIO_LEN), 0, 8);
            run.asSlice(KvmLayouts.RUN_MMIO_DATA, 8).fill((byte) 0);
            MemorySegment.copy(data, 0, run, JAVA_BYTE, KvmLayouts.RUN_MMIO_DATA, Math.min(len, data.length));
        }
    }
}
