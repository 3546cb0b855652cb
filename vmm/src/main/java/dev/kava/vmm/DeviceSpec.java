package dev.kava.vmm;

import dev.kava.virtio.fs.CacheMode;
import dev.kava.virtio.fs.VirtioFsDevice;
import java.nio.file.Path;
import java.util.Objects;

/** A virtio device of a {@link VmSpec}: the closed set the VMM knows how to build. */
public sealed interface DeviceSpec {
    /** virtio-blk on a file or block device; {@code serial} is what GET_ID answers. */
    record Block(Path path, boolean readOnly, String serial) implements DeviceSpec {
        public Block {
            Objects.requireNonNull(path, "path");
            Objects.requireNonNull(serial, "serial");
        }
    }

    /**
     * virtio-net on tap {@code tap}, created in the network namespace {@code netns} (a
     * {@code /run/netns/NAME} file; null for this process's namespace).
     */
    record Net(String tap, Path netns, byte[] mac) implements DeviceSpec {
        public Net {
            Objects.requireNonNull(tap, "tap");
            if (mac.length != 6) {
                throw new IllegalArgumentException("a MAC address has 6 bytes");
            }
            mac = mac.clone();
        }
    }

    /** virtio-vsock with a hybrid vsock host side on unix socket {@code socket}. */
    record Vsock(long guestCid, Path socket) implements DeviceSpec {
        public Vsock {
            Objects.requireNonNull(socket, "socket");
        }
    }

    /** virtio-console ({@code hvc0}) writing to {@code output} (created or appended). */
    record Console(Path output) implements DeviceSpec {
        public Console {
            Objects.requireNonNull(output, "output");
        }
    }

    /** virtio-rng. */
    record Rng() implements DeviceSpec {}

    /**
     * virtio-fs served inline by this process's FUSE server: the guest mounts {@code sharedDir} with
     * {@code mount -t virtiofs TAG DIR}, cached as {@code cache} says.
     */
    record Fs(String tag, Path sharedDir, CacheMode cache) implements DeviceSpec {
        public Fs {
            Objects.requireNonNull(sharedDir, "sharedDir");
            Objects.requireNonNull(cache, "cache");
            new VirtioFsDevice.Options(tag, 1, 0); // the tag's rules, checked now
        }
    }
}
