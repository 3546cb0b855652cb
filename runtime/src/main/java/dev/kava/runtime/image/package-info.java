/**
 * Container images for {@code kava run}: turns {@code busybox} or a local OCI image (an OCI image layout
 * as a directory or tar, or a {@code docker save} archive) into an unpacked, cached, read-only root
 * filesystem plus the image config. {@link dev.kava.runtime.image.ImageStore} is the entry point.
 *
 * <p>Trust: image files are hostile input. Layer digests are checked against the manifest (sha256), and
 * layers are unpacked through a root-confined path walk that never follows a symlink out of the rootfs,
 * so no entry, symlink, hardlink or whiteout can create, change or delete anything outside it. Nothing
 * here mounts anything: the runtime puts an overlay on top of {@link dev.kava.runtime.image.Image#rootfs()}.
 */
package dev.kava.runtime.image;
