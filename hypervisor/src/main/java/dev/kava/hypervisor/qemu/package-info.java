/**
 * The {@code qemu} hypervisor plugin: each VM is a {@code qemu-system-x86_64 -M microvm} child
 * process, controlled over QMP (a unix socket under the sandbox's state directory).
 *
 * <ul>
 *   <li>{@link dev.kava.hypervisor.qemu.QemuProvider}: the {@link java.util.ServiceLoader} entry,
 *       finds the binary and the acceleration.</li>
 *   <li>{@link dev.kava.hypervisor.qemu.QemuHypervisor}: lifecycle of one VM process.</li>
 *   <li>{@code QemuCommandLine}: the exact argv, built from a {@link dev.kava.hypervisor.VmConfig}
 *       and the devices; pure, unit-tested without QEMU.</li>
 *   <li>{@code Acceleration}: KVM when the host has real hardware virtualization, else TCG with
 *       {@code tsc_early_khz} (without it a microvm guest under TCG hangs after "Marking TSC
 *       unstable").</li>
 *   <li>{@code Qmp}: a minimal blocking QMP client (JSON lines, deadline on every call, async
 *       events skipped).</li>
 * </ul>
 *
 * <p>Threads: none of its own. QEMU's exit is observed through {@link java.lang.Process#onExit()}
 * (the JDK's shared process reaper); QMP calls run on the caller's thread.
 */
package dev.kava.hypervisor.qemu;
