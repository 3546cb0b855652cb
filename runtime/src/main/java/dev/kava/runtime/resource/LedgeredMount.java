package dev.kava.runtime.resource;

import dev.kava.linux.ErrnoException;
import dev.kava.linux.Mounts;
import dev.kava.runtime.KavaException;
import java.nio.file.Path;

/**
 * A mount this runtime makes on the host, recorded in the {@link MountLedger} before it exists (so
 * {@code kava cleanup} can undo it after a crash) and taken off the ledger once it is gone. The
 * mount itself and its unmount are done here once for every kind (overlay rootfs, bind volume).
 */
abstract class LedgeredMount implements Resource {
    protected final Path mountPoint;
    private final MountLedger ledger;
    private boolean mounted;

    LedgeredMount(Path mountPoint, MountLedger ledger) {
        this.mountPoint = mountPoint;
        this.ledger = ledger;
    }

    public final Path path() {
        return mountPoint;
    }

    /** Records the mount point, then {@code mount(2)}s on it. */
    protected final synchronized void mount(String source, String fsType, long flags, String data) {
        ledger.willMount(mountPoint.toString());
        Mounts.mount(source, mountPoint.toString(), fsType, flags, data);
        mounted = true;
    }

    /** Detaches the mount if this object made it, then takes the mount point off the ledger. */
    protected final synchronized void unmount() {
        if (mounted) {
            try {
                Mounts.detach(mountPoint.toString());
            } catch (ErrnoException e) {
                throw new KavaException("cannot unmount " + mountPoint + ": " + e.getMessage(), e);
            }
            mounted = false;
        }
        ledger.unmounted(mountPoint.toString());
    }
}
