/**
 * A private, throw-away containerd for tests and benchmarks: {@link dev.kava.cli.containerd.PrivateContainerd}
 * starts {@code containerd} on a directory of its own (config, root, state, sockets), runs {@code ctr}
 * against it and, when closed, leaves nothing behind (shims, containers, mounts, files).
 * {@link dev.kava.cli.containerd.LocalImages} builds OCI image archives from a local root filesystem and
 * imports them, so no registry is needed.
 */
package dev.kava.cli.containerd;
