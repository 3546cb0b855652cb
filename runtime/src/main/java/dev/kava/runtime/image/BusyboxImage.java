package dev.kava.runtime.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

/**
 * The built-in {@code busybox} image, assembled from Debian's busybox-static: {@code bin/busybox}, a
 * relative symlink per applet, a minimal /etc, /tmp and the mount points the runtime fills.
 */
final class BusyboxImage {
    static final String REFERENCE = "busybox";
    /** Bump when the recipe below changes, so cached images are rebuilt. */
    static final String RECIPE_VERSION = "kava-busybox-recipe-1";
    static final ImageConfig CONFIG = new ImageConfig(List.of(), List.of("sh"),
            List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "/", "");

    private final Path binary;

    BusyboxImage(Path binary) {
        this.binary = binary;
    }

    /** sha256 of the binary and the recipe version. */
    String digest() throws ImageException {
        if (!Files.isRegularFile(binary)) {
            throw new ImageException("the built-in busybox image needs " + binary + ": apt-get install busybox-static");
        }
        MessageDigest md = ImageArchive.newSha256();
        try (InputStream in = Files.newInputStream(binary)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        } catch (IOException e) {
            throw new ImageException("cannot read " + binary + ": " + e.getMessage(), e);
        }
        md.update(RECIPE_VERSION.getBytes(StandardCharsets.UTF_8));
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    /** Fills an empty rootfs directory. */
    void build(Path rootfs) throws IOException, ImageException {
        for (String dir : List.of("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "proc", "sys", "dev", "run", "var")) {
            Files.createDirectories(rootfs.resolve(dir));
        }
        Path tmp = Files.createDirectory(rootfs.resolve("tmp"));
        Files.setAttribute(tmp, "unix:mode", 01777);
        Files.setAttribute(rootfs.resolve("root"), "unix:mode", 0700);
        Path busybox = rootfs.resolve("bin/busybox");
        Files.copy(binary, busybox);
        Files.setAttribute(busybox, "unix:mode", 0755);
        for (String applet : applets()) {
            List<String> parts = RootedTree.clean(applet);
            if (parts.isEmpty() || parts.equals(List.of("bin", "busybox"))) {
                continue;
            }
            Path link = rootfs.resolve(String.join("/", parts));
            Files.createDirectories(link.getParent());
            if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(link, link.getParent().relativize(busybox));
            }
        }
        write(rootfs, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        write(rootfs, "etc/group", "root:x:0:\nnogroup:x:65534:\n");
        write(rootfs, "etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        write(rootfs, "etc/resolv.conf", "");
    }

    private List<String> applets() throws IOException, ImageException {
        Process p = new ProcessBuilder(binary.toString(), "--list-full").redirectErrorStream(true).start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            if (p.waitFor() != 0) {
                throw new ImageException(binary + " --list-full failed: " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ImageException("interrupted while listing busybox applets", e);
        }
        return out.lines().map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    private static void write(Path rootfs, String name, String content) throws IOException {
        Path p = rootfs.resolve(name);
        Files.writeString(p, content);
        Files.setAttribute(p, "unix:mode", 0644);
    }
}
