package dev.kava.runtime.image;

import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * The cache of unpacked images: {@code cacheDir/images/<sha256 hex>/{rootfs/, config.json, reference}}.
 *
 * <p>An image is unpacked into {@code images/.tmp-<hex>-<random>/} and renamed into place in one step,
 * so an entry that exists is complete. Resolving holds a per-image lock (a file lock between processes,
 * a {@link ReentrantLock} between threads); should two writers still race, the first rename wins and the
 * other discards its copy. Entries are never modified after the rename: the rootfs is an overlay lower dir.
 */
public final class ImageStore {
    private static final System.Logger LOG = System.getLogger(ImageStore.class.getName());
    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
    private static final ConcurrentHashMap<Path, ReentrantLock> THREAD_LOCKS = new ConcurrentHashMap<>();

    private final Path cacheDir;
    private final Path images;
    private final Path busyboxBinary;

    public ImageStore(Path cacheDir) {
        this(cacheDir, Path.of("/bin/busybox"));
    }

    ImageStore(Path cacheDir, Path busyboxBinary) {
        this.cacheDir = cacheDir.toAbsolutePath();
        this.images = this.cacheDir.resolve("images");
        this.busyboxBinary = busyboxBinary;
    }

    /** Unpacks {@code busybox} or the OCI image / docker archive at the path {@code reference}, or finds it cached. */
    public Image resolve(String reference, ProgressListener listener) throws ImageException {
        ProgressListener progress = listener == null ? ProgressListener.silent() : listener;
        if (reference.equals(BusyboxImage.REFERENCE)) {
            BusyboxImage busybox = new BusyboxImage(busyboxBinary);
            String digest = busybox.digest();
            return cached(reference, digest, progress, tmp -> {
                busybox.build(tmp.resolve("rootfs"));
                return BusyboxImage.CONFIG.toImageConfigJson().toString().getBytes(StandardCharsets.UTF_8);
            });
        }
        Path path = Path.of(reference);
        if (!Files.exists(path)) {
            throw new ImageException("image " + reference + " not found: no such file or directory"
                    + " (kava runs the built-in busybox or a local OCI image layout / docker archive)");
        }
        Path scratch = null;
        try {
            ArchiveFiles files;
            if (Files.isDirectory(path)) {
                files = new ArchiveFiles.Directory(path);
            } else {
                Path tar = path;
                if (isGzip(path)) {
                    progress.step("decompressing " + reference);
                    scratch = Files.createDirectories(cacheDir.resolve("tmp")).resolve(UUID.randomUUID() + ".tar");
                    try (InputStream in = new GZIPInputStream(Files.newInputStream(path), 1 << 16)) {
                        Files.copy(in, scratch);
                    }
                    tar = scratch;
                }
                files = indexTar(tar, reference);
            }
            ImageArchive archive = new ImageArchive(files, reference);
            ImageArchive.Manifest manifest = manifest(archive);
            return cached(reference, manifest.digest(), progress, tmp -> {
                LayerUnpacker unpacker = new LayerUnpacker(tmp.resolve("rootfs"));
                int i = 0;
                for (ImageArchive.Layer layer : manifest.layers()) {
                    progress.step("unpacking layer " + ++i + "/" + manifest.layers().size() + " " + layer.digest());
                    try (InputStream in = archive.openVerified(layer)) {
                        unpacker.apply(in, layer.digest());
                    }
                }
                return manifest.configBlob();
            });
        } catch (IOException e) {
            throw new ImageException("cannot read image " + reference + ": " + e, e);
        } finally {
            if (scratch != null) {
                try {
                    Files.deleteIfExists(scratch);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "cannot delete {0}: {1}", scratch, e);
                }
            }
        }
    }

    /** The images in the cache. Entries that cannot be read are skipped with a log line. */
    public List<Image> list() {
        List<Image> out = new ArrayList<>();
        if (!Files.isDirectory(images)) {
            return out;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(images)) {
            for (Path dir : dirs) {
                if (!HEX.matcher(dir.getFileName().toString()).matches()) {
                    continue;
                }
                try {
                    out.add(load(null, dir));
                } catch (IOException | ImageException e) {
                    LOG.log(System.Logger.Level.WARNING, "skipping unreadable cached image {0}: {1}", dir, e.getMessage());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.sort(java.util.Comparator.comparing(Image::digest));
        return out;
    }

    /**
     * Deletes a cached image ({@code sha256:<hex>} or the bare hex); a no-op if it is not cached. The
     * caller makes sure no container still uses its rootfs as an overlay lower dir.
     */
    public void remove(String digest) {
        String hex = digest.startsWith("sha256:") ? digest.substring(7) : digest;
        if (!HEX.matcher(hex).matches()) {
            throw new IllegalArgumentException("not a sha256 digest: " + digest);
        }
        try {
            locked(hex, () -> {
                Path doomed = images.resolve(".rm-" + hex + "-" + UUID.randomUUID());
                try {
                    Files.move(images.resolve(hex), doomed, StandardCopyOption.ATOMIC_MOVE);  // gone in one step
                } catch (NoSuchFileException e) {
                    return null;
                }
                LayerUnpacker.deleteRecursively(doomed);
                return null;
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (ImageException e) {
            throw new IllegalStateException(e);  // not thrown by the action above
        }
    }

    @FunctionalInterface
    private interface Builder {
        /** Fills tmp/rootfs (already created) and returns the config blob to store. */
        byte[] build(Path tmp) throws IOException, ImageException;
    }

    @FunctionalInterface
    private interface Action<T> {
        T run() throws IOException, ImageException;
    }

    /** Runs action holding the image's lock: a file lock between processes, a ReentrantLock between threads. */
    private <T> T locked(String hex, Action<T> action) throws IOException, ImageException {
        Files.createDirectories(images);
        Path lockFile = Files.createDirectories(cacheDir.resolve("locks")).resolve(hex + ".lock");
        ReentrantLock threadLock = THREAD_LOCKS.computeIfAbsent(lockFile, k -> new ReentrantLock());
        threadLock.lock();
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            channel.lock();  // released when the channel closes
            return action.run();
        } finally {
            threadLock.unlock();
        }
    }

    private Image cached(String reference, String digest, ProgressListener progress, Builder builder) throws ImageException {
        String hex = digest.substring("sha256:".length());
        Path target = images.resolve(hex);
        try {
            return locked(hex, () -> {
                if (Files.isDirectory(target)) {
                    progress.step("using cached image " + digest);
                    return load(reference, target);
                }
                removeLeftovers(hex);  // from a crash: only the lock holder writes .tmp-<hex>-* and .rm-<hex>-*
                Path tmp = images.resolve(".tmp-" + hex + "-" + UUID.randomUUID());
                try {
                    Files.createDirectory(tmp);
                    Path rootfs = Files.createDirectory(tmp.resolve("rootfs"));
                    Files.setAttribute(rootfs, "unix:mode", 0755);
                    byte[] config = builder.build(tmp);
                    Files.write(tmp.resolve("config.json"), config);
                    Files.writeString(tmp.resolve("reference"), reference);
                    try {
                        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);  // rename(2): the image appears whole
                    } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                        LOG.log(System.Logger.Level.INFO, "image {0} was unpacked concurrently; using that copy", digest);
                    }
                } finally {
                    LayerUnpacker.deleteRecursively(tmp);
                }
                progress.step("unpacked image " + digest);
                return load(reference, target);
            });
        } catch (IOException e) {
            throw new ImageException("cannot store image " + reference + " in " + images + ": " + e, e);
        }
    }

    private void removeLeftovers(String hex) throws IOException {
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(images, ".{tmp,rm}-" + hex + "-*")) {
            for (Path p : stale) {
                LOG.log(System.Logger.Level.INFO, "removing unfinished image {0}", p);
                LayerUnpacker.deleteRecursively(p);
            }
        }
    }

    private static Image load(String reference, Path dir) throws IOException, ImageException {
        if (reference == null) {
            Path ref = dir.resolve("reference");
            reference = Files.exists(ref) ? Files.readString(ref) : "";
        }
        ImageConfig config;
        try {
            config = ImageConfig.fromImageConfigJson(JsonParser.parseString(
                    Files.readString(dir.resolve("config.json"))).getAsJsonObject());
        } catch (JsonParseException | IllegalStateException e) {
            throw new ImageException("cached image " + dir + " has an unreadable config.json");
        }
        return new Image(reference, "sha256:" + dir.getFileName(), dir.resolve("rootfs"), config);
    }

    private static ImageArchive.Manifest manifest(ImageArchive archive) throws IOException, ImageException {
        try {
            return archive.manifest();
        } catch (RuntimeException e) {  // gson's getAsString and friends on JSON of the wrong shape
            throw new ImageException("malformed image manifest: " + e.getMessage(), e);
        }
    }

    private static ArchiveFiles indexTar(Path tar, String reference) throws IOException, ImageException {
        try {
            return new ArchiveFiles.Tar(tar);
        } catch (ImageException e) {
            throw new ImageException(reference + " is not an OCI image layout or docker archive: " + e.getMessage(), e);
        }
    }

    private static boolean isGzip(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] m = in.readNBytes(2);
            return m.length == 2 && (m[0] & 0xff) == 0x1f && (m[1] & 0xff) == 0x8b;
        }
    }
}
