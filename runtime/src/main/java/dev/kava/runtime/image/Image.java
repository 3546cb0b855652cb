package dev.kava.runtime.image;

import java.nio.file.Path;
import java.util.Objects;

/**
 * An unpacked image in the cache.
 *
 * @param reference what the user asked for: {@code busybox} or the path of an OCI image
 * @param digest    {@code sha256:<hex>} naming the cache entry (manifest digest for OCI images, config
 *                  digest for docker archives, recipe digest for the built-in busybox)
 * @param rootfs    the unpacked root filesystem; read-only by contract, used as an overlay lower dir
 * @param config    the parts of the image config a container needs
 */
public record Image(String reference, String digest, Path rootfs, ImageConfig config) {
    public Image {
        Objects.requireNonNull(reference, "reference");
        Objects.requireNonNull(digest, "digest");
        Objects.requireNonNull(rootfs, "rootfs");
        Objects.requireNonNull(config, "config");
    }
}
