/**
 * The {@code builtin} hypervisor plugin: the sandbox's VM runs inside this JVM on KVM through the
 * {@code vmm} module ({@link dev.kava.vmm.Vmm}), with the guest agent reached over hybrid vsock
 * ({@link dev.kava.hypervisor.AgentEndpoint.HybridVsock}: {@code CONNECT 1024}).
 *
 * <ul>
 *   <li>{@link dev.kava.hypervisor.builtin.BuiltinProvider}: the {@link java.util.ServiceLoader}
 *       entry; available only with real hardware virtualization (not without {@code /dev/kvm},
 *       not under PVM, which cannot boot Linux).</li>
 *   <li>{@link dev.kava.hypervisor.builtin.BuiltinHypervisor}: one VM: root image, block devices,
 *       virtio-rng, virtio-vsock; the same lifecycle as every plugin.</li>
 * </ul>
 *
 * <p>Threads: the VM's own, {@code vcpus + 1} platform threads (see {@link dev.kava.vmm.Vmm}); the
 * plugin adds none.
 */
package dev.kava.hypervisor.builtin;
