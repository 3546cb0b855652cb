package dev.kava.runtime.image;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;

/**
 * Applies image layers (tar or gzip'ed tar, told apart by magic bytes) one after the other onto a
 * root directory, with OCI whiteout semantics. Layers are hostile input: every name is resolved through
 * {@link RootedTree}, so nothing outside the root is created, changed or deleted.
 */
final class LayerUnpacker {
    private static final System.Logger LOG = System.getLogger(LayerUnpacker.class.getName());
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    private static final String WHITEOUT = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";

    private final RootedTree tree;
    private boolean chown = true;

    LayerUnpacker(Path root) {
        this.tree = new RootedTree(root);
    }

    /** Unpacks one layer on top of what is already in the root. {@code layer} names it in messages. */
    void apply(InputStream blob, String layer) throws IOException, ImageException {
        TarReader tar = new TarReader(decompress(blob, layer));
        Map<Path, Long> directoryTimes = new LinkedHashMap<>();
        Set<Path> written = new HashSet<>();
        Set<Path> writtenAncestors = new HashSet<>();
        TarReader.Entry entry;
        while ((entry = nextEntry(tar, layer)) != null) {
            try {
                Path done = applyEntry(entry, tar, written, writtenAncestors, directoryTimes);
                if (done != null) {
                    written.add(done);
                    for (Path p = done.getParent(); p != null && p.startsWith(tree.root()); p = p.getParent()) {
                        writtenAncestors.add(p);
                    }
                }
            } catch (InvalidPathException e) {
                throw new ImageException("layer " + layer + " has an invalid name " + entry.name());
            } catch (IOException e) {
                throw new ImageException("cannot unpack " + entry.name() + " from layer " + layer + ": " + e, e);
            }
        }
        List<Map.Entry<Path, Long>> dirs = new ArrayList<>(directoryTimes.entrySet());
        for (Map.Entry<Path, Long> d : dirs.reversed()) {
            if (RootedTree.attributes(d.getKey()) instanceof BasicFileAttributes a && a.isDirectory()) {
                setTimes(d.getKey(), d.getValue());
            }
        }
    }

    private static TarReader.Entry nextEntry(TarReader tar, String layer) throws IOException, ImageException {
        try {
            return tar.next();
        } catch (ImageException e) {
            throw new ImageException("layer " + layer + ": " + e.getMessage(), e);
        }
    }

    /** Returns the path written, or null for entries that write nothing (whiteouts, devices). */
    private Path applyEntry(TarReader.Entry e, TarReader tar, Set<Path> written, Set<Path> writtenAncestors,
                            Map<Path, Long> directoryTimes) throws IOException, ImageException {
        List<String> components = RootedTree.clean(e.name());
        if (components.isEmpty()) {
            return null;  // the root itself ("./"): its attributes are the runtime's business
        }
        String base = components.getLast();
        List<String> parent = components.subList(0, components.size() - 1);
        if (base.startsWith(WHITEOUT)) {
            whiteout(parent, base, written, writtenAncestors);
            return null;
        }
        if (e.type() == TarReader.Type.CHAR_DEVICE || e.type() == TarReader.Type.BLOCK_DEVICE) {
            LOG.log(System.Logger.Level.INFO, "skipping device node {0}: containers get /dev from the runtime", e.name());
            return null;
        }
        Path target = tree.directory(parent, true).resolve(base);
        long mtime = e.mtimeSeconds();
        BasicFileAttributes existing = RootedTree.attributes(target);
        switch (e.type()) {
            case DIRECTORY -> {
                if (existing != null && !existing.isDirectory()) {
                    deleteRecursively(target);
                    existing = null;
                }
                if (existing == null) {
                    Files.createDirectory(target);
                }
                setOwnerAndMode(target, e, true);
                directoryTimes.put(target, mtime);
            }
            case FILE -> {
                deleteRecursively(target);
                try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE, NOFOLLOW)) {
                    tar.content().transferTo(out);
                }
                setOwnerAndMode(target, e, true);
                setTimes(target, mtime);
            }
            case SYMLINK -> {
                if (e.linkName().isEmpty()) {
                    throw new ImageException("symlink " + e.name() + " has an empty target");
                }
                deleteRecursively(target);
                Files.createSymbolicLink(target, Path.of(e.linkName()));
                setOwnerAndMode(target, e, false);
                setTimes(target, mtime);
            }
            case HARDLINK -> {
                Path source = hardlinkSource(e);
                if (source.equals(target)) {
                    return target;
                }
                deleteRecursively(target);
                Files.createLink(target, source);
            }
            case FIFO -> {
                deleteRecursively(target);
                NativeFiles.mkfifo(target, 0600);
                setOwner(target, e);
                Files.setAttribute(target, "unix:mode", e.mode());  // not O_NOFOLLOW: that would open the FIFO
                setTimes(target, mtime);
            }
            default -> throw new IllegalStateException("unreachable: " + e.type());
        }
        return target;
    }

    /** A hardlink's source must already be in the root (this layer or a lower one) and not be a directory. */
    private Path hardlinkSource(TarReader.Entry e) throws IOException, ImageException {
        List<String> link = RootedTree.clean(e.linkName());
        Path dir = link.isEmpty() ? null : tree.directory(link.subList(0, link.size() - 1), false);
        Path source = dir == null ? null : dir.resolve(link.getLast());
        BasicFileAttributes attrs = source == null ? null : RootedTree.attributes(source);
        if (attrs == null) {
            throw new ImageException("hardlink " + e.name() + " points to " + e.linkName() + ", which is not in the image");
        }
        if (attrs.isDirectory()) {
            throw new ImageException("hardlink " + e.name() + " points to the directory " + e.linkName());
        }
        return source;
    }

    private void whiteout(List<String> parent, String base, Set<Path> written, Set<Path> writtenAncestors)
            throws IOException, ImageException {
        Path dir = tree.directory(parent, false);
        if (dir == null) {
            return;  // nothing below to hide
        }
        if (base.equals(OPAQUE)) {
            makeOpaque(dir, written, writtenAncestors);
        } else if (base.startsWith(WHITEOUT + WHITEOUT)) {
            LOG.log(System.Logger.Level.DEBUG, "ignoring aufs metadata {0}", base);
        } else {
            String victim = base.substring(WHITEOUT.length());
            if (victim.isEmpty() || victim.equals(".") || victim.equals("..")) {
                throw new ImageException("invalid whiteout " + String.join("/", parent) + "/" + base);
            }
            deleteRecursively(dir.resolve(victim));
        }
    }

    /** Removes everything in dir that lower layers put there, keeping what this layer wrote. */
    private static void makeOpaque(Path dir, Set<Path> written, Set<Path> writtenAncestors) throws IOException {
        List<Path> children;
        try (var list = Files.list(dir)) {
            children = list.toList();
        }
        for (Path child : children) {
            if (!written.contains(child) && !writtenAncestors.contains(child)) {
                deleteRecursively(child);
            } else if (RootedTree.attributes(child) instanceof BasicFileAttributes a && a.isDirectory()) {
                makeOpaque(child, written, writtenAncestors);  // kept, but lower content inside it goes too
            }
        }
    }

    private void setOwnerAndMode(Path p, TarReader.Entry e, boolean mode) throws IOException {
        setOwner(p, e);
        if (mode) {
            Files.setAttribute(p, "unix:mode", e.mode(), NOFOLLOW);  // after chown, which clears setuid
        }
    }

    private void setOwner(Path p, TarReader.Entry e) throws IOException {
        if (!chown) {
            return;
        }
        try {
            Files.setAttribute(p, "unix:uid", e.uid(), NOFOLLOW);
            Files.setAttribute(p, "unix:gid", e.gid(), NOFOLLOW);
        } catch (java.nio.file.FileSystemException ex) {
            if (ex instanceof java.nio.file.NoSuchFileException) {
                throw ex;
            }
            chown = false;  // EPERM: not root (tests, rootless); owners stay the current user's
            LOG.log(System.Logger.Level.WARNING, "cannot set file owners ({0}); unpacking as the current user", ex.getMessage());
        }
    }

    private static void setTimes(Path p, long epochSeconds) throws IOException {
        NativeFiles.setTimes(p, epochSeconds);
    }

    /** Deletes p and, if it is a real directory, everything in it. Symlinks are removed, never followed. */
    static void deleteRecursively(Path p) throws IOException {
        BasicFileAttributes attrs = RootedTree.attributes(p);
        if (attrs == null) {
            return;
        }
        if (!attrs.isDirectory()) {
            Files.delete(p);
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes a) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException failure) throws IOException {
                if (failure != null) {
                    throw failure;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** Plain tar or gzip by magic bytes; zstd, xz and bzip2 are recognised and refused by name. */
    static InputStream decompress(InputStream raw, String layer) throws IOException, ImageException {
        BufferedInputStream in = new BufferedInputStream(raw, 1 << 16);
        in.mark(8);
        byte[] m = in.readNBytes(6);
        in.reset();
        if (m.length >= 2 && (m[0] & 0xff) == 0x1f && (m[1] & 0xff) == 0x8b) {
            return new GZIPInputStream(in, 1 << 16);
        }
        String codec = null;
        if (m.length >= 4 && (m[0] & 0xff) == 0x28 && (m[1] & 0xff) == 0xb5 && (m[2] & 0xff) == 0x2f && (m[3] & 0xff) == 0xfd) {
            codec = "zstd";
        } else if (m.length >= 6 && (m[0] & 0xff) == 0xfd && m[1] == '7' && m[2] == 'z' && m[3] == 'X' && m[4] == 'Z' && m[5] == 0) {
            codec = "xz";
        } else if (m.length >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h') {
            codec = "bzip2";
        }
        if (codec != null) {
            throw new ImageException("layer " + layer + " is compressed with " + codec + ", which kava cannot unpack yet");
        }
        return in;
    }
}
