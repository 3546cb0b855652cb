/**
 * The Hypervisor SPI: how the runtime starts, controls and tears down the VM of one sandbox,
 * whatever runs it.
 *
 * <p>A {@link dev.kava.hypervisor.HypervisorProvider} is found with {@link java.util.ServiceLoader}
 * (see {@link dev.kava.hypervisor.HypervisorProvider#load()}), says whether it can run on this host
 * ({@link dev.kava.hypervisor.HypervisorProvider.Availability}) and creates one
 * {@link dev.kava.hypervisor.Hypervisor} per sandbox. The lifecycle is
 * {@code prepare(VmConfig) → addDevice(..)* → start(timeout) → [pause/resume]* → stop(grace) → close()};
 * {@code close()} is always safe and never leaves a VM process or a socket behind.
 *
 * <p>Configuration and devices are records; closed sets are sealed interfaces
 * ({@link dev.kava.hypervisor.Device}, {@link dev.kava.hypervisor.AgentEndpoint}). Optional features
 * are reported by {@link dev.kava.hypervisor.Capabilities}, never by methods that throw.
 * Every failure is a {@link dev.kava.hypervisor.HypervisorException}; invalid record values
 * (a programming error) are an {@link java.lang.IllegalArgumentException}.
 *
 * <p>Plugins live in sub-packages: {@code dev.kava.hypervisor.qemu} (QEMU child process + QMP).
 */
package dev.kava.hypervisor;
