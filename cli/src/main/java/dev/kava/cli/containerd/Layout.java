package dev.kava.cli.containerd;

import java.nio.file.Path;

/** Where a private containerd keeps everything: one directory, nothing outside it that we choose. */
record Layout(Path dir) {
    static final String PREFIX = "kava-ctrd-";

    Path config() {
        return dir.resolve("config.toml");
    }

    Path root() {
        return dir.resolve("root");
    }

    Path state() {
        return dir.resolve("state");
    }

    Path socket() {
        return dir.resolve("containerd.sock");
    }

    Path ttrpcSocket() {
        return dir.resolve("containerd.sock.ttrpc");
    }

    Path log() {
        return dir.resolve("containerd.log");
    }

    /** "pid startMillis" of the JVM that owns the directory: a directory whose owner is gone is stale. */
    Path owner() {
        return dir.resolve("owner");
    }

    /** containerd's pid, to kill it when its owner died ({@link PrivateContainerd#reapStale}). */
    Path pidFile() {
        return dir.resolve("containerd.pid");
    }

    Path cniConfDir() {
        return dir.resolve("cni/net.d");
    }

    Path cniBinDir() {
        return dir.resolve("cni/bin");
    }

    Path opt() {
        return dir.resolve("opt");
    }

    /** The task bundles of one namespace, {@code state/io.containerd.runtime.v2.task/NS/ID}. */
    Path bundles() {
        return state().resolve("io.containerd.runtime.v2.task");
    }
}
