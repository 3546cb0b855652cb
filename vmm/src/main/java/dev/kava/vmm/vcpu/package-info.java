/**
 * vCPU threads: {@link dev.kava.vmm.vcpu.Vcpu} runs {@code KVM_RUN} on a platform thread, hands
 * port and MMIO exits to an {@link dev.kava.vmm.vcpu.ExitHandler}, and is paused, resumed and
 * stopped by kicks (a blocked real-time signal plus {@code immediate_exit}); the end of the guest
 * is a {@link dev.kava.vmm.vcpu.VcpuEnd}.
 */
package dev.kava.vmm.vcpu;
