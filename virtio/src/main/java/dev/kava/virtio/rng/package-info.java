/**
 * virtio-rng: {@link dev.kava.virtio.rng.VirtioRng} gives the guest entropy from the host at boot,
 * so its random pool is ready at once (the JVM and crun read it early).
 */
package dev.kava.virtio.rng;
