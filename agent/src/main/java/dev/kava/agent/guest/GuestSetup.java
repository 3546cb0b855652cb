package dev.kava.agent.guest;

import dev.kava.linux.LinuxException;
import dev.kava.linux.MountInfo;
import dev.kava.linux.Mounts;
import dev.kava.linux.SystemCalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;

/**
 * What the guest needs mounted beyond what /sbin/init did (/proc, /sys, /dev, /run, /tmp):
 * devpts (a new instance), /dev/shm, the cgroup2 hierarchy with controllers delegated to its
 * children. Idempotent: what is mounted already is left alone. Failures are logged; the agent
 * serves on regardless (and containers will say what is missing).
 */
public final class GuestSetup {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.guest");
    private static final Path CGROUP = Path.of("/sys/fs/cgroup");
    private static final List<String> CONTROLLERS = List.of("cpuset", "cpu", "io", "memory", "pids");

    private GuestSetup() {}

    /** Mounts devpts, shm and cgroup2, and enables the cgroup controllers. */
    public static void mountSystem() {
        Set<String> mounted = new HashSet<>();
        try {
            for (MountInfo m : Mounts.mountInfo()) {
                mounted.add(m.mountPoint());
            }
        } catch (LinuxException e) {
            LOG.warning(e.getMessage());
        }
        mount(mounted, "devpts", "/dev/pts", "devpts", Mounts.MS_NOSUID | Mounts.MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620,gid=5");
        mount(mounted, "shm", "/dev/shm", "tmpfs", Mounts.MS_NOSUID | Mounts.MS_NODEV, "mode=1777");
        boolean cgroup = mount(mounted, "cgroup2", CGROUP.toString(), "cgroup2",
                Mounts.MS_NOSUID | Mounts.MS_NODEV | Mounts.MS_NOEXEC | Mounts.MS_RELATIME, null);
        if (cgroup) {
            enableControllers(CGROUP);
        }
    }

    private static boolean mount(Set<String> mounted, String source, String target, String fstype, long flags,
            String data) {
        if (mounted.contains(target)) {
            return true;
        }
        try {
            Files.createDirectories(Path.of(target));
            Mounts.mount(source, target, fstype, flags, data);
            return true;
        } catch (IOException | LinuxException e) {
            LOG.warning("mount " + fstype + " on " + target + ": " + e.getMessage());
            return false;
        }
    }

    /** Enables each available controller of {@link #CONTROLLERS} in the root's subtree_control. */
    public static void enableControllers(Path root) {
        String available;
        String enabled;
        try {
            available = " " + Files.readString(root.resolve("cgroup.controllers")).strip() + " ";
            enabled = " " + Files.readString(root.resolve("cgroup.subtree_control")).strip() + " ";
        } catch (IOException e) {
            LOG.warning("cgroup controllers: " + e.getMessage());
            return;
        }
        for (String c : CONTROLLERS) {
            if (available.contains(" " + c + " ") && !enabled.contains(" " + c + " ")) {
                try {
                    Files.writeString(root.resolve("cgroup.subtree_control"), "+" + c);
                } catch (IOException e) {
                    LOG.warning("cannot enable cgroup controller " + c + ": " + e.getMessage());
                }
            }
        }
    }

    /** Sets the hostname; logs a failure. */
    public static void hostname(String name) {
        try {
            SystemCalls.sethostname(name);
        } catch (LinuxException e) {
            LOG.warning("sethostname " + name + ": " + e.getMessage());
        }
    }
}
