package dev.kava.runtime.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Path resolution confined to a root directory, the way a container sees its rootfs: archive names and
 * symlink targets are interpreted relative to the root, {@code ..} stops at the root, and every component
 * is examined with {@link LinkOption#NOFOLLOW_LINKS} so that a symlink planted by an earlier layer
 * ({@code etc -> /etc}, {@code x -> ../../..}) resolves to a place inside the root, never outside it.
 *
 * <p>SAFETY: the checks and the use of a path are separate system calls, so this is only sound while no
 * one else writes under the root. The store guarantees it: layers are unpacked into a fresh private
 * directory that nothing else knows about until it is renamed into the cache.
 */
final class RootedTree {
    private static final int MAX_SYMLINKS = 40;
    private final Path root;

    RootedTree(Path root) {
        this.root = root;
    }

    Path root() {
        return root;
    }

    /** An archive name as components below the root: leading '/', '.' and empty parts dropped, '..' clamped. */
    static List<String> clean(String name) {
        List<String> out = new ArrayList<>();
        for (String part : name.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                if (!out.isEmpty()) {
                    out.removeLast();
                }
                continue;
            }
            out.add(part);
        }
        return out;
    }

    /**
     * The real directory inside the root that {@code components} name, following symlinks within the
     * root. With {@code create}, missing directories are made (0755) and a non-directory that is in the
     * way is replaced by a directory; without it, null is returned when the directory does not exist.
     */
    Path directory(List<String> components, boolean create) throws IOException, ImageException {
        Deque<String> todo = new ArrayDeque<>(components);
        List<String> current = new ArrayList<>();
        int symlinks = 0;
        while (!todo.isEmpty()) {
            String c = todo.pollFirst();
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                if (!current.isEmpty()) {
                    current.removeLast();
                }
                continue;
            }
            Path p = path(current).resolve(c);
            BasicFileAttributes attrs = attributes(p);
            if (attrs != null && attrs.isDirectory()) {
                current.add(c);
            } else if (attrs != null && attrs.isSymbolicLink()) {
                if (++symlinks > MAX_SYMLINKS) {
                    throw new ImageException("too many levels of symbolic links in " + String.join("/", components));
                }
                String target = Files.readSymbolicLink(p).toString();
                if (target.startsWith("/")) {
                    current.clear();
                }
                String[] parts = target.split("/");
                for (int i = parts.length - 1; i >= 0; i--) {
                    todo.addFirst(parts[i]);
                }
            } else if (!create) {
                return null;
            } else {
                if (attrs != null) {
                    Files.delete(p);  // a file where a directory is needed: the later layer wins
                }
                Files.createDirectory(p);
                current.add(c);
            }
        }
        return path(current);
    }

    /** Attributes of p itself (a symlink is not followed), or null if nothing is there. */
    static BasicFileAttributes attributes(Path p) throws IOException {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private Path path(List<String> components) {
        Path p = root;
        for (String c : components) {
            p = p.resolve(c);
        }
        return p;
    }
}
