package dev.kava.agent.guest;

import dev.kava.agent.AgentErrors;
import dev.kava.api.agent.Storage;
import dev.kava.linux.LinuxException;
import dev.kava.linux.Mounts;
import dev.kava.ttrpc.TtrpcException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/** Mounts the host's {@link Storage}s: 9p, virtio-fs, tmpfs and bind. */
public final class StorageMounts {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.guest");

    /** The drivers {@link #mount} knows; GetGuestDetails reports them. */
    public static final List<String> DRIVERS = List.of("9p", "virtio-fs", "tmpfs", "bind");

    private static final Map<String, Long> FLAGS = Map.ofEntries(
            Map.entry("ro", Mounts.MS_RDONLY), Map.entry("rw", 0L),
            Map.entry("nosuid", Mounts.MS_NOSUID), Map.entry("nodev", Mounts.MS_NODEV),
            Map.entry("noexec", Mounts.MS_NOEXEC), Map.entry("sync", Mounts.MS_SYNCHRONOUS),
            Map.entry("noatime", Mounts.MS_NOATIME), Map.entry("nodiratime", Mounts.MS_NODIRATIME),
            Map.entry("relatime", Mounts.MS_RELATIME), Map.entry("strictatime", Mounts.MS_STRICTATIME),
            Map.entry("dirsync", Mounts.MS_DIRSYNC), Map.entry("bind", Mounts.MS_BIND),
            Map.entry("rbind", Mounts.MS_BIND | Mounts.MS_REC),
            Map.entry("suid", 0L), Map.entry("dev", 0L), Map.entry("exec", 0L), Map.entry("async", 0L));

    private StorageMounts() {}

    /** Mounts each storage; returns the mount points, in order. On failure, undoes the others. */
    public static List<String> mountAll(List<Storage> storages) throws TtrpcException {
        List<String> done = new ArrayList<>();
        try {
            for (Storage s : storages) {
                String target = mount(s);
                if (target != null) {
                    done.add(target);
                }
            }
            return done;
        } catch (TtrpcException | RuntimeException e) {
            unmountAll(done);
            throw e;
        }
    }

    /**
     * Mounts one storage; returns its mount point, or null when it was mounted already (left as
     * is, and not ours to unmount).
     */
    public static String mount(Storage s) throws TtrpcException {
        String target = s.getMountPoint();
        if (!target.startsWith("/") || target.contains("/../") || target.endsWith("/..")) {
            throw AgentErrors.invalid("storage mount point `" + target + "` is not a plain absolute path");
        }
        String fstype;
        String source = s.getSource();
        long flags = 0;
        List<String> data = new ArrayList<>();
        switch (s.getDriver()) {
            case "9p" -> {
                fstype = "9p";
                data.add("trans=virtio");
                data.add("version=9p2000.L");
                data.add("msize=262144");
                data.add("cache=mmap");
            }
            case "virtio-fs" -> fstype = "virtiofs";
            case "tmpfs" -> {
                fstype = "tmpfs";
                source = source.isEmpty() ? "tmpfs" : source;
            }
            case "bind" -> {
                fstype = null;
                flags |= Mounts.MS_BIND;
            }
            default -> throw AgentErrors.invalid("storage driver `" + s.getDriver() + "` is not one of " + DRIVERS);
        }
        if (source.isEmpty()) {
            throw AgentErrors.invalid("storage for " + target + " has no source");
        }
        if (!s.getFstype().isEmpty() && !s.getDriver().equals("bind")) {
            fstype = s.getFstype();
        }
        for (String opt : s.getOptionsList()) {
            Long f = FLAGS.get(opt);
            if (f != null) {
                flags |= f;
            } else if (!opt.isEmpty()) {
                data.removeIf(d -> d.startsWith(opt.split("=", 2)[0] + "="));
                data.add(opt);
            }
        }
        data.addAll(s.getDriverOptionsList().stream().filter(o -> o.contains("=") && !o.contains(",")).toList());
        try {
            Files.createDirectories(Path.of(target));
        } catch (IOException e) {
            throw AgentErrors.internal("cannot create mount point " + target + ": " + e.getMessage());
        }
        if (Mounts.isMountPoint(target)) {
            LOG.info(target + " is mounted already");
            return null;
        }
        String opts = data.isEmpty() ? null : String.join(",", data);
        try {
            Mounts.mount(source, target, fstype, flags, opts);
            if ((flags & Mounts.MS_BIND) != 0 && (flags & Mounts.MS_RDONLY) != 0) {
                Mounts.mount(null, target, null, flags | Mounts.MS_REMOUNT, null);
            }
        } catch (LinuxException e) {
            throw AgentErrors.internal("mount " + s.getDriver() + " " + source + " on " + target + ": "
                    + e.getMessage());
        }
        LOG.info("mounted " + s.getDriver() + " " + source + " on " + target);
        return target;
    }

    /** Unmounts in reverse order (lazily, so a busy mount does not fail the caller). */
    public static void unmountAll(List<String> targets) {
        for (int i = targets.size() - 1; i >= 0; i--) {
            try {
                Mounts.umount(targets.get(i), Mounts.MNT_DETACH);
            } catch (LinuxException e) {
                LOG.warning("umount " + targets.get(i) + ": " + e.getMessage());
            }
        }
    }
}
