package dev.kava.runtime.resource;

import dev.kava.linux.ErrnoException;
import dev.kava.linux.Mounts;
import dev.kava.runtime.KavaException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A host file or directory bind-mounted into the sandbox's shared directory, so the guest sees it
 * (a container volume). Read-only volumes are remounted read-only on the host, so neither the guest
 * nor anything below it can write them. The mount point is recorded in the sandbox state before the
 * mount, so {@code kava cleanup} can undo it after a crash.
 */
public final class BindVolume extends LedgeredMount {
    private final Path source;

    private BindVolume(Path source, Path mountPoint, MountLedger ledger) {
        super(mountPoint, ledger);
        this.source = source;
    }

    /**
     * Binds {@code source} (recursively: mounts below it come along) at {@code mountPoint}, which is
     * created as an empty directory or file to match; read-only on the host when {@code readOnly}.
     */
    public static BindVolume mount(Path source, Path mountPoint, boolean readOnly, MountLedger ledger) {
        if (!Files.exists(source)) {
            throw new KavaException("volume source " + source + " does not exist");
        }
        if (!Files.isDirectory(source) && !Files.isRegularFile(source)) {
            throw new KavaException("volume source " + source + " is neither a directory nor a regular file");
        }
        BindVolume v = new BindVolume(source, mountPoint, ledger);
        try {
            Files.createDirectories(mountPoint.getParent());
            if (Files.isDirectory(source)) {
                Files.createDirectory(mountPoint);
            } else {
                Files.createFile(mountPoint);
            }
            v.mount(source.toString(), null, Mounts.MS_BIND | Mounts.MS_REC, null);
            if (readOnly) {
                Mounts.mount(null, mountPoint.toString(), null, Mounts.MS_BIND | Mounts.MS_REMOUNT | Mounts.MS_RDONLY, null);
            }
            return v;
        } catch (IOException e) {
            v.close();
            throw new KavaException("cannot prepare the mount point " + mountPoint + " for volume " + source + ": " + e.getMessage(), e);
        } catch (ErrnoException e) {
            v.close();
            throw new KavaException("cannot bind volume " + source + " at " + mountPoint + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String describe() {
        return "volume " + source + " (bind on " + mountPoint + ")";
    }

    /** Unmounts (lazily) and removes the empty mount point. */
    @Override
    public synchronized void close() {
        unmount();
        try {
            // the empty directory or file it was mounted on (a directory that is not empty stays;
            // a file still mounted cannot be unlinked: EBUSY)
            if (!Mounts.isMountPoint(mountPoint.toString())) {
                Files.deleteIfExists(mountPoint);
            }
        } catch (IOException e) {
            // left for the sandbox's final clean-up
        }
    }
}
