package dev.kava.vmm.kvm;

import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.OpenFlags;
import dev.kava.linux.SystemCalls;
import dev.kava.vmm.VmmException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * {@code /dev/kvm}: the system-level KVM handle (kvm-ioctls' {@code Kvm}). Creates VMs
 * ({@link KvmVm}), answers capability questions and reports the CPUID features the host supports.
 * Thread-safe; close it after the VMs it created.
 */
public final class Kvm implements AutoCloseable {
    private static final int MAX_CPUID_ENTRIES = 256;

    private final Fd fd;
    private final int vcpuMmapSize;

    private Kvm(Fd fd) {
        this.fd = fd;
        this.vcpuMmapSize = SystemCalls.ioctl(fd.value(), KvmIoctls.KVM_GET_VCPU_MMAP_SIZE, 0);
    }

    /**
     * Opens {@code /dev/kvm} and checks the API version and the capabilities this VMM needs
     * (user memory, in-kernel irqchip, PIT2, irqfd, ioeventfd, immediate exit).
     */
    public static Kvm open() {
        Fd fd;
        try {
            fd = Fd.open("/dev/kvm", OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
        } catch (LinuxException e) {
            throw new VmmException("cannot open /dev/kvm: " + e.getMessage(), e);
        }
        try {
            int version = SystemCalls.ioctl(fd.value(), KvmIoctls.KVM_GET_API_VERSION, 0);
            if (version != KvmConstants.KVM_API_VERSION) {
                throw new VmmException("KVM API version " + version + ", expected " + KvmConstants.KVM_API_VERSION);
            }
            Kvm kvm = new Kvm(fd);
            int[][] required = {
                {KvmConstants.KVM_CAP_USER_MEMORY}, {KvmConstants.KVM_CAP_IRQCHIP}, {KvmConstants.KVM_CAP_PIT2},
                {KvmConstants.KVM_CAP_IRQFD}, {KvmConstants.KVM_CAP_IOEVENTFD}, {KvmConstants.KVM_CAP_IMMEDIATE_EXIT},
                {KvmConstants.KVM_CAP_SET_TSS_ADDR}, {KvmConstants.KVM_CAP_EXT_CPUID}};
            for (int[] cap : required) {
                if (kvm.checkExtension(cap[0]) <= 0) {
                    throw new VmmException("KVM lacks capability " + cap[0] + " (see <linux/kvm.h> KVM_CAP_*)");
                }
            }
            return kvm;
        } catch (RuntimeException e) {
            fd.close();
            throw e instanceof VmmException v ? v : new VmmException("/dev/kvm: " + e.getMessage(), e);
        }
    }

    /** {@code KVM_CHECK_EXTENSION}: 0 when unsupported, else a capability-specific positive value. */
    public int checkExtension(int capability) {
        return SystemCalls.ioctl(fd.value(), KvmIoctls.KVM_CHECK_EXTENSION, capability);
    }

    /** Whether the TSC-deadline timer can be offered to guests. */
    public boolean tscDeadlineTimer() {
        return checkExtension(KvmConstants.KVM_CAP_TSC_DEADLINE_TIMER) > 0;
    }

    /** The most vCPUs one VM may have. */
    public int maxVcpus() {
        int max = checkExtension(KvmConstants.KVM_CAP_MAX_VCPUS);
        return max > 0 ? max : Math.max(4, checkExtension(KvmConstants.KVM_CAP_NR_VCPUS));
    }

    /** Bytes of a vCPU's {@code kvm_run} mapping. */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** {@code KVM_GET_SUPPORTED_CPUID}: every leaf the host's KVM can offer. */
    public List<CpuidEntry> supportedCpuid() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = KvmStructs.cpuid(arena, List.of(), MAX_CPUID_ENTRIES);
            SystemCalls.ioctl(fd.value(), KvmIoctls.KVM_GET_SUPPORTED_CPUID, s);
            return KvmStructs.cpuid(s);
        } catch (ErrnoException e) {
            throw new VmmException("KVM_GET_SUPPORTED_CPUID: " + e.getMessage(), e);
        }
    }

    /** {@code KVM_CREATE_VM}: a new, empty VM. */
    public KvmVm createVm() {
        int vm;
        try {
            vm = SystemCalls.ioctl(fd.value(), KvmIoctls.KVM_CREATE_VM, 0);
        } catch (ErrnoException e) {
            throw new VmmException("KVM_CREATE_VM: " + e.getMessage(), e);
        }
        return new KvmVm(this, Fd.adopt(vm));
    }

    @Override
    public void close() {
        fd.close();
    }
}
