package dev.kava.cli.containerd;

import dev.kava.runtime.config.ConfigLoader;
import dev.kava.runtime.image.ImageException;
import dev.kava.runtime.image.ImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Images without a registry: an OCI image archive written from a local root filesystem and imported with
 * {@code ctr image import}, unpacked for the overlayfs snapshotter. {@link #importDefaults} provides
 * {@link #BUSYBOX} and the CRI sandbox image {@link #PAUSE}, both from kava's built-in busybox rootfs.
 */
public final class LocalImages {
    /** busybox, {@code Cmd ["sh"]}. */
    public static final String BUSYBOX = "localhost/busybox:latest";
    /** The pod sandbox image: sleeps until SIGTERM or SIGKILL, and exits 0 on SIGTERM even as pid 1. */
    public static final String PAUSE = "localhost/kava-pause:latest";
    /**
     * The pause command. As pid 1 a process gets no signal it has no handler for, hence the trap; the sleep
     * runs in the background so that the shell waits in {@code wait}, which a trapped signal interrupts.
     */
    public static final List<String> PAUSE_COMMAND = List.of("sh", "-c",
            "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done");
    private static final List<String> PATH_ENV = List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");

    /**
     * The image config of one image.
     *
     * @param reference  its name, {@code host/name:tag}
     * @param entrypoint the Entrypoint (may be empty)
     * @param cmd        the Cmd
     * @param env        the Env, {@code KEY=VALUE}
     * @param workingDir the WorkingDir
     */
    public record ImageSpec(String reference, List<String> entrypoint, List<String> cmd, List<String> env, String workingDir) {
        public ImageSpec {
            Objects.requireNonNull(reference, "reference");
            Objects.requireNonNull(workingDir, "workingDir");
            entrypoint = List.copyOf(entrypoint);
            cmd = List.copyOf(cmd);
            env = List.copyOf(env);
        }
    }

    private LocalImages() {}

    /** {@link #BUSYBOX}: {@code sh}, PATH set. */
    public static ImageSpec busybox() {
        return new ImageSpec(BUSYBOX, List.of(), List.of("sh"), PATH_ENV, "/");
    }

    /** {@link #PAUSE}: {@link #PAUSE_COMMAND}. */
    public static ImageSpec pause() {
        return new ImageSpec(PAUSE, List.of(), PAUSE_COMMAND, PATH_ENV, "/");
    }

    /**
     * The rootfs of kava's built-in busybox image, built on first use in kava's image cache
     * ({@code $KAVA_CACHE/images}, as {@code kava run busybox} uses it).
     */
    public static Path busyboxRootfs() throws ImageException {
        Path cache = ConfigLoader.load(null).runtime().cacheDir();
        return new ImageStore(cache).resolve("busybox", null).rootfs();
    }

    /**
     * Writes an OCI image archive (a tar of an OCI image layout) holding {@code images}, all with one layer:
     * {@code rootfs}.
     */
    public static Path writeArchive(Path rootfs, List<ImageSpec> images, Path archive) throws IOException {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("an image archive needs at least one image");
        }
        OciArchive.write(rootfs, images, archive);
        return archive;
    }

    /**
     * {@code ctr image import} of an archive into each namespace, unpacked for overlayfs. CRI only sees images
     * in {@link ContainerdOptions#CRI_NAMESPACE}.
     *
     * @throws ContainerdException when ctr fails
     */
    public static void importArchive(PrivateContainerd containerd, Path archive, String... namespaces) {
        for (String ns : namespaces) {
            CommandResult r = containerd.ctrIn(ns, null, "images", "import", "--snapshotter", "overlayfs", archive.toString());
            if (!r.ok()) {
                throw new ContainerdException("cannot import " + archive + " into namespace " + ns + ": " + r);
            }
        }
    }

    /**
     * Imports {@link #BUSYBOX} and {@link #PAUSE} into the containerd's own namespace and the CRI namespace.
     *
     * @throws ContainerdException when the busybox rootfs cannot be built or the import fails
     */
    public static void importDefaults(PrivateContainerd containerd) {
        Path archive = containerd.dir().resolve("images.tar");
        try {
            writeArchive(busyboxRootfs(), List.of(busybox(), pause()), archive);
            importArchive(containerd, archive, containerd.namespace(), ContainerdOptions.CRI_NAMESPACE);
        } catch (IOException | ImageException e) {
            throw new ContainerdException("cannot build the local images: " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(archive);
            } catch (IOException e) {
                // removed with the directory at close
            }
        }
    }
}
