/**
 * What a vCPU looks like to the guest at boot: {@link dev.kava.vmm.cpu.CpuidPolicy} (CPUID from the
 * host's supported leaves, per-vCPU topology, no hypercall-based PV features unless asked),
 * {@link dev.kava.vmm.cpu.BootCpu} (long-mode registers, boot MSRs, LAPIC local interrupts) and the
 * architectural constants in {@link dev.kava.vmm.cpu.X86}.
 */
package dev.kava.vmm.cpu;
