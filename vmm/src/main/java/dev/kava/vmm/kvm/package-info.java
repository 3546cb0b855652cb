/**
 * The KVM API through FFM, one handle type per level (as kvm-ioctls): {@link dev.kava.vmm.kvm.Kvm}
 * ({@code /dev/kvm}: capabilities, supported CPUID, VM creation), {@link dev.kava.vmm.kvm.KvmVm}
 * (memory slots, in-kernel irqchip and PIT, irqfd, ioeventfd, vCPUs) and
 * {@link dev.kava.vmm.kvm.KvmVcpu} (registers, CPUID, MSRs, LAPIC, signal mask, {@code KVM_RUN}),
 * whose exits are the sealed {@link dev.kava.vmm.kvm.VcpuExit}. Registers and table entries are
 * records; the C structs are spelled out in package-private {@code KvmLayouts} and every size,
 * offset, constant and ioctl number is checked against {@code <linux/kvm.h>} by a gcc-compiled
 * test. {@link dev.kava.vmm.kvm.KvmSupport} says, without opening anything, whether this host can
 * run guest programs (any {@code /dev/kvm}) or boot Linux (hardware virtualization, not PVM).
 */
package dev.kava.vmm.kvm;
