/**
 * The built-in VMM: {@link dev.kava.vmm.Vmm} runs one VM in this process with KVM, from a
 * {@link dev.kava.vmm.VmSpec} (vCPUs, RAM, a Linux kernel or a bare program, virtio devices as
 * {@link dev.kava.vmm.DeviceSpec}s, the serial console) to its {@link dev.kava.vmm.VmExit}. The
 * one exception type of the module is {@link dev.kava.vmm.VmmException}.
 *
 * <p>Packages: {@code kvm} (the KVM API through FFM: {@code Kvm}, {@code KvmVm}, {@code KvmVcpu},
 * struct layouts checked against {@code <linux/kvm.h>}), {@code memory} (the guest physical map),
 * {@code boot} (bzImage/ELF loading, boot_params, page tables, GDT, MP table), {@code cpu} (CPUID,
 * MSRs, boot registers), {@code bus} (port and MMIO dispatch, interrupt lines), {@code legacy}
 * (16550 UART, i8042), {@code mmio} (the virtio-mmio transport), {@code vcpu} (vCPU threads and
 * kicks). The device models themselves live in the {@code virtio} module.
 *
 * <p>The threat model is the guest's: see {@code docs/vmm.md}.
 */
package dev.kava.vmm;
