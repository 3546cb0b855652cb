package dev.kava.hypervisor;

import dev.kava.virtio.fs.CacheMode;
import java.nio.file.Path;
import java.util.Objects;

/** A device added to a VM before it starts ({@link Hypervisor#addDevice(Device)}). */
public sealed interface Device {

    /**
     * A host directory shared with the guest, mounted there by {@code tag}.
     * For {@link Kind#NINE_P} the guest mounts it with
     * {@code mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 TAG DIR}; for
     * {@link Kind#VIRTIO_FS} with {@code mount -t virtiofs TAG DIR}. Submounts under
     * {@code hostPath} (container root file systems, volumes) are part of the share.
     *
     * @param cache how much the guest may cache a virtio-fs share (9p ignores it: there the guest's
     *              mount options decide)
     */
    record SharedFs(String tag, Path hostPath, Kind kind, Cache cache) implements Device {
        /** Who serves the share: QEMU's virtio-9p, or kava's own virtio-fs server. */
        public enum Kind { NINE_P, VIRTIO_FS }

        /**
         * Guest caching of a virtio-fs share: {@code NONE} (every access asks the host: coherent with
         * host changes), {@code AUTO} (metadata cached for 1 s, file data while the host file's size
         * and mtime do not change), {@code ALWAYS} (cached for a day: for shares only the guest changes).
         */
        public enum Cache {
            NONE, AUTO, ALWAYS;

            /** The same mode as kava's FUSE server spells it. */
            public CacheMode serverMode() {
                return switch (this) {
                    case NONE -> CacheMode.NONE;
                    case AUTO -> CacheMode.AUTO;
                    case ALWAYS -> CacheMode.ALWAYS;
                };
            }
        }

        public SharedFs {
            Objects.requireNonNull(tag, "tag");
            Objects.requireNonNull(hostPath, "hostPath");
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(cache, "cache");
            // virtio-9p limits mount_tag to 31 bytes; keep tags to characters every consumer accepts
            if (!tag.matches("[A-Za-z0-9_.-]{1,31}")) {
                throw new IllegalArgumentException("bad shared-fs tag '" + tag + "': 1-31 of [A-Za-z0-9_.-]");
            }
        }

        /** A share with {@link Cache#AUTO}. */
        public SharedFs(String tag, Path hostPath, Kind kind) {
            this(tag, hostPath, kind, Cache.AUTO);
        }
    }

    /** A raw disk image or block device attached as the next virtio-blk device (/dev/vdb, /dev/vdc, ...). */
    record BlockDevice(Path path, boolean readOnly) implements Device {
        public BlockDevice {
            Objects.requireNonNull(path, "path");
        }
    }
}
