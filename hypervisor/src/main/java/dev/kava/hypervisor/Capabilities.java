package dev.kava.hypervisor;

/**
 * What a {@link Hypervisor} can do on this host. The runtime asks before it uses an optional feature.
 *
 * @param hardwareAcceleration the guest runs under hardware virtualization (KVM), not an emulator
 * @param pauseResume {@link Hypervisor#pause()} and {@link Hypervisor#resume()} work
 * @param sharedFs9p {@link Device.SharedFs} with {@link Device.SharedFs.Kind#NINE_P} works
 * @param virtioFs {@link Device.SharedFs} with {@link Device.SharedFs.Kind#VIRTIO_FS} works
 * @param vsock the agent can be reached over (hybrid) vsock
 */
public record Capabilities(boolean hardwareAcceleration, boolean pauseResume, boolean sharedFs9p,
                           boolean virtioFs, boolean vsock) {
}
