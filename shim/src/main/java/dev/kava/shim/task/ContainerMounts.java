package dev.kava.shim.task;

import dev.kava.api.containerd.types.Mount;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Mounts;
import dev.kava.runtime.KavaException;
import dev.kava.runtime.resource.MountLedger;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The host mounts one container needs inside the sandbox's shared directory: its rootfs (the mounts of
 * CreateTaskRequest: an overlay from the overlayfs snapshotter, a bind from native) and its volumes (bind
 * mounts of the OCI spec). Each mount point is recorded in the sandbox state before it is mounted, so a
 * dead shim's mounts are found and undone; {@link #close()} unmounts them, last first.
 */
final class ContainerMounts implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ContainerMounts.class.getName());
    private static final Map<String, Long> FLAGS = Map.ofEntries(
            Map.entry("ro", Mounts.MS_RDONLY), Map.entry("rw", 0L), Map.entry("nosuid", Mounts.MS_NOSUID),
            Map.entry("nodev", Mounts.MS_NODEV), Map.entry("noexec", Mounts.MS_NOEXEC), Map.entry("bind", Mounts.MS_BIND),
            Map.entry("rbind", Mounts.MS_BIND | Mounts.MS_REC), Map.entry("noatime", Mounts.MS_NOATIME),
            Map.entry("relatime", Mounts.MS_RELATIME), Map.entry("strictatime", Mounts.MS_STRICTATIME),
            Map.entry("nodiratime", Mounts.MS_NODIRATIME), Map.entry("sync", Mounts.MS_SYNCHRONOUS),
            Map.entry("dirsync", Mounts.MS_DIRSYNC), Map.entry("suid", 0L), Map.entry("dev", 0L), Map.entry("exec", 0L),
            Map.entry("atime", 0L), Map.entry("async", 0L), Map.entry("private", 0L), Map.entry("rprivate", 0L),
            Map.entry("slave", 0L), Map.entry("rslave", 0L), Map.entry("shared", 0L), Map.entry("rshared", 0L));

    private final String containerId;
    private final MountLedger ledger;
    private final Path dir;
    private final List<Path> mounted = new ArrayList<>();
    private int volumes;

    /** {@code dir} is the container's directory in the shared directory; it is created. */
    ContainerMounts(String containerId, Path dir, MountLedger ledger) {
        this.containerId = containerId;
        this.dir = dir;
        this.ledger = ledger;
    }

    /** Mounts the rootfs at {@code <dir>/rootfs}; without mounts, binds {@code bundleRootfs}. */
    Path mountRootfs(List<Mount> rootfs, Path bundleRootfs) {
        Path target = dir.resolve("rootfs");
        try {
            Files.createDirectories(target);
        } catch (IOException e) {
            throw new KavaException("cannot create " + target + ": " + e.getMessage(), e);
        }
        if (rootfs.isEmpty()) {
            if (!Files.isDirectory(bundleRootfs)) {
                throw new KavaException("no rootfs mounts and no directory " + bundleRootfs);
            }
            mount(bundleRootfs.toString(), target, "bind", Mounts.MS_BIND | Mounts.MS_REC, "");
            return target;
        }
        for (Mount m : rootfs) {
            long flags = 0;
            List<String> data = new ArrayList<>();
            for (String o : m.getOptionsList()) {
                Long f = FLAGS.get(o);
                if (f != null) {
                    flags |= f;
                } else {
                    if (o.contains(",")) throw new KavaException("rootfs mount option `" + o + "` contains a comma");
                    data.add(o);
                }
            }
            boolean bind = m.getType().equals("bind") || (flags & Mounts.MS_BIND) != 0;
            boolean readOnly = (flags & Mounts.MS_RDONLY) != 0;
            mount(m.getSource(), target, bind ? "none" : m.getType(),
                    bind ? (flags & ~Mounts.MS_RDONLY) | Mounts.MS_BIND : flags, String.join(",", data));
            if (bind && readOnly) remountReadOnly(target);
        }
        return target;
    }

    /**
     * Shares a host path (a directory or a file) of a bind-mount volume: binds it at
     * {@code <dir>/volumes/<n>}, read-only on the host too when the volume is. Returns the path relative to
     * the shared directory's container dir.
     */
    String shareVolume(Path source, boolean readOnly) {
        if (!Files.exists(source)) {
            throw new KavaException("volume source " + source + " does not exist");
        }
        Path target = dir.resolve("volumes").resolve(Integer.toString(volumes++));
        try {
            Files.createDirectories(target.getParent());
            if (Files.isDirectory(source)) {
                Files.createDirectories(target);
            } else {
                Files.deleteIfExists(target);
                Files.createFile(target);
            }
        } catch (IOException e) {
            throw new KavaException("cannot create " + target + ": " + e.getMessage(), e);
        }
        mount(source.toString(), target, "none", Mounts.MS_BIND | Mounts.MS_REC, "");
        if (readOnly) remountReadOnly(target);
        return "volumes/" + target.getFileName();
    }

    private void mount(String source, Path target, String type, long flags, String data) {
        ledger.willMount(target.toString());
        try {
            Mounts.mount(source, target.toString(), type, flags, data.isEmpty() ? null : data);
            mounted.add(target);
        } catch (ErrnoException e) {
            ledger.unmounted(target.toString());
            throw new KavaException("cannot mount " + type + " " + source + " on " + target + " for " + containerId + ": " + e.getMessage(), e);
        }
    }

    private void remountReadOnly(Path target) {
        try {
            Mounts.mount("none", target.toString(), "none", Mounts.MS_BIND | Mounts.MS_REMOUNT | Mounts.MS_RDONLY, null);
        } catch (ErrnoException e) {
            throw new KavaException("cannot make " + target + " read-only: " + e.getMessage(), e);
        }
    }

    /** Unmounts everything, last first, and removes the container's directory. Never throws. */
    @Override
    public void close() {
        for (int i = mounted.size() - 1; i >= 0; i--) {
            Path p = mounted.get(i);
            try {
                Mounts.detach(p.toString());
            } catch (ErrnoException e) {
                LOG.warning("cannot unmount " + p + ": " + e.getMessage());
                continue;
            }
            ledger.unmounted(p.toString());
        }
        mounted.clear();
        deleteEmptyTree(dir);
    }

    /** Deletes the container dir, never descending into anything still mounted. */
    private static void deleteEmptyTree(Path d) {
        if (!Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.deleteIfExists(d);
            } catch (IOException e) {
                LOG.fine("delete " + d + ": " + e.getMessage());
            }
            return;
        }
        if (Mounts.isMountPoint(d.toString())) return;
        try (var s = Files.list(d)) {
            for (Path c : s.toList()) deleteEmptyTree(c);
        } catch (IOException e) {
            LOG.fine("list " + d + ": " + e.getMessage());
        }
        try {
            Files.deleteIfExists(d);
        } catch (IOException e) {
            LOG.fine("delete " + d + ": " + e.getMessage());
        }
    }
}
