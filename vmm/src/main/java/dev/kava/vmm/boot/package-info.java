/**
 * x86-64 Linux boot without firmware: {@link dev.kava.vmm.boot.KernelImage} (bzImage or ELF
 * vmlinux), and {@link dev.kava.vmm.boot.LinuxBoot}, which writes the kernel, initrd, command line,
 * boot_params with the e820 map ({@link dev.kava.vmm.boot.BootParams}), identity page tables with
 * 2 MiB pages ({@link dev.kava.vmm.boot.PageTables}), the GDT ({@link dev.kava.vmm.boot.Gdt}) and
 * the MP table ({@link dev.kava.vmm.boot.MpTable}) into guest memory at the addresses of
 * {@link dev.kava.vmm.boot.BootLayout}. Nothing here needs KVM: the boot layout tests check every
 * field in an anonymous {@link dev.kava.virtio.memory.GuestMemory}.
 */
package dev.kava.vmm.boot;
