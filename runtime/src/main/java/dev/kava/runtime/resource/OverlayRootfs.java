package dev.kava.runtime.resource;

import dev.kava.linux.ErrnoException;
import dev.kava.linux.Mounts;
import dev.kava.runtime.KavaException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A container's root filesystem: an overlay whose lower layer is the cached, read-only image rootfs
 * and whose upper layer is private to the container, mounted inside the sandbox's shared directory
 * so the guest sees it. The image cache is never written.
 */
public final class OverlayRootfs extends LedgeredMount {
    private final String containerId;

    private OverlayRootfs(String containerId, Path mountPoint, MountLedger ledger) {
        super(mountPoint, ledger);
        this.containerId = containerId;
    }

    /**
     * Mounts the overlay at {@code mountPoint}; upper and work directories go under {@code scratch}.
     */
    public static OverlayRootfs mount(String containerId, Path imageRootfs, Path mountPoint, Path scratch, MountLedger ledger) {
        OverlayRootfs r = new OverlayRootfs(containerId, mountPoint, ledger);
        try {
            Path upper = scratch.resolve("upper");
            Path work = scratch.resolve("work");
            Files.createDirectories(upper);
            Files.createDirectories(work);
            Files.createDirectories(mountPoint);
            for (Path p : new Path[] {imageRootfs, upper, work}) {
                if (p.toString().contains(",") || p.toString().contains(":")) {
                    throw new KavaException("cannot use " + p + " in an overlay mount: the path contains ',' or ':'");
                }
            }
            r.mount("overlay", "overlay", Mounts.MS_NODEV,
                    "lowerdir=" + imageRootfs + ",upperdir=" + upper + ",workdir=" + work);
            return r;
        } catch (IOException e) {
            r.close();
            throw new KavaException("cannot prepare the rootfs of " + containerId + ": " + e.getMessage(), e);
        } catch (ErrnoException e) {
            r.close();
            throw new KavaException("cannot mount the rootfs of " + containerId + " (overlay on " + mountPoint + "): "
                    + e.getMessage() + (e.errnoName().equals("ENODEV") ? " (is overlayfs available? modprobe overlay)" : ""), e);
        }
    }

    @Override
    public String describe() {
        return "rootfs of " + containerId + " (overlay on " + mountPoint + ")";
    }

    @Override
    public void close() {
        unmount();
    }
}
