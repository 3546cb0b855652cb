package dev.kava.hypervisor;

import java.nio.file.Path;
import java.util.Objects;

/** A device added to a VM before it starts ({@link Hypervisor#addDevice(Device)}). */
public sealed interface Device {

    /**
     * A host directory shared with the guest, mounted there by {@code tag}.
     * For {@link Kind#NINE_P} the guest mounts it with
     * {@code mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 TAG DIR}.
     */
    record SharedFs(String tag, Path hostPath, Kind kind) implements Device {
        public enum Kind { NINE_P, VIRTIO_FS }

        public SharedFs {
            Objects.requireNonNull(tag, "tag");
            Objects.requireNonNull(hostPath, "hostPath");
            Objects.requireNonNull(kind, "kind");
            // virtio-9p limits mount_tag to 31 bytes; keep tags to characters every consumer accepts
            if (!tag.matches("[A-Za-z0-9_.-]{1,31}")) {
                throw new IllegalArgumentException("bad shared-fs tag '" + tag + "': 1-31 of [A-Za-z0-9_.-]");
            }
        }
    }

    /** A raw disk image or block device attached as the next virtio-blk device (/dev/vdb, /dev/vdc, ...). */
    record BlockDevice(Path path, boolean readOnly) implements Device {
        public BlockDevice {
            Objects.requireNonNull(path, "path");
        }
    }
}
