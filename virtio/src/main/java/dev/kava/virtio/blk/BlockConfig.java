package dev.kava.virtio.blk;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A virtio-blk device's back-end.
 *
 * @param path     a regular file (a raw image) or a block device
 * @param readOnly open it read-only and offer VIRTIO_BLK_F_RO: writes, discards and write-zeroes
 *                 fail with IOERR / UNSUPP
 * @param serial   what GET_ID answers (the guest's {@code /sys/block/vdX/serial}), at most 20
 *                 bytes of ASCII
 */
public record BlockConfig(Path path, boolean readOnly, String serial) {
    /** Bytes of a GET_ID answer. */
    public static final int ID_BYTES = 20;

    public BlockConfig {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(serial, "serial");
        if (serial.getBytes(StandardCharsets.US_ASCII).length > ID_BYTES || !StandardCharsets.US_ASCII.newEncoder().canEncode(serial)) {
            throw new IllegalArgumentException("serial must be at most " + ID_BYTES + " ASCII characters: " + serial);
        }
    }
}
