package dev.kava.runtime.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerUnpackerTest {
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    @TempDir Path tmp;

    private Path unpack(byte[]... layers) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("rootfs"));
        LayerUnpacker unpacker = new LayerUnpacker(root);
        int i = 0;
        for (byte[] layer : layers) {
            unpacker.apply(new ByteArrayInputStream(layer), "layer" + i++);
        }
        return root;
    }

    @Test
    void unpacksFilesDirectoriesModesOwnersAndMtimes() throws Exception {
        TarWriter w = new TarWriter().mtime(1_600_000_000L).dir("usr/").dir("usr/bin/");
        w.entry("usr/bin/su", '0', 04755, 0, 0, "", "su".getBytes());
        w.entry("home/user/notes", '0', 0600, 1000, 1001, "", "n".getBytes());
        w.entry("tmp/", '5', 01777, 0, 0, "", new byte[0]);
        Path root = unpack(w.finish());
        Path su = root.resolve("usr/bin/su");
        assertEquals("su", Files.readString(su));
        assertEquals(04755, (int) Files.getAttribute(su, "unix:mode") & 07777);
        assertEquals(01777, (int) Files.getAttribute(root.resolve("tmp"), "unix:mode") & 07777);
        Path notes = root.resolve("home/user/notes");
        assertEquals(1000, Files.getAttribute(notes, "unix:uid"));
        assertEquals(1001, Files.getAttribute(notes, "unix:gid"));
        assertEquals(FileTime.fromMillis(1_600_000_000_000L), Files.getLastModifiedTime(su));
        assertEquals(FileTime.fromMillis(1_600_000_000_000L), Files.getLastModifiedTime(root.resolve("usr/bin")),
                "directory mtimes are set after their contents are written");
    }

    @Test
    void gzipLayersAreDetectedByMagicBytes() throws Exception {
        Path root = unpack(TarWriter.gzip(new TarWriter().file("etc/os-release", "ID=test").finish()));
        assertEquals("ID=test", Files.readString(root.resolve("etc/os-release")));
    }

    @Test
    void zstdLayersAreRefusedByName() {
        byte[] zstd = {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd, 0, 0, 0, 0};
        ImageException e = assertThrows(ImageException.class, () -> unpack(zstd));
        assertEquals("layer layer0 is compressed with zstd, which kava cannot unpack yet", e.getMessage());
    }

    @Test
    void preservesSymlinksHardlinksAndFifosAndSkipsDevices() throws Exception {
        Path root = unpack(new TarWriter().file("bin/busybox", "bb", 0755).symlink("bin/sh", "busybox")
                .hardlink("bin/ls", "bin/busybox").fifo("run/ctl").charDevice("dev/null").finish());
        assertEquals(Path.of("busybox"), Files.readSymbolicLink(root.resolve("bin/sh")));
        assertEquals(Files.getAttribute(root.resolve("bin/busybox"), "unix:ino"), Files.getAttribute(root.resolve("bin/ls"), "unix:ino"));
        assertEquals(2, Files.getAttribute(root.resolve("bin/ls"), "unix:nlink"));
        assertTrue(Files.readAttributes(root.resolve("run/ctl"), java.nio.file.attribute.BasicFileAttributes.class, NOFOLLOW).isOther());
        assertEquals(0640, (int) Files.getAttribute(root.resolve("run/ctl"), "unix:mode") & 07777);
        assertFalse(Files.exists(root.resolve("dev/null"), NOFOLLOW));
    }

    @Test
    void hardlinksMayPointIntoLowerLayers() throws Exception {
        Path root = unpack(new TarWriter().file("a", "lower").finish(), new TarWriter().hardlink("b", "a").finish());
        assertEquals("lower", Files.readString(root.resolve("b")));
    }

    @Test
    void whiteoutsAndOpaqueDirectoriesAcrossThreeLayers() throws Exception {
        byte[] base = new TarWriter().file("etc/keep", "1").file("etc/gone", "2").dir("etc/conf.d/")
                .file("etc/conf.d/old", "3").dir("etc/conf.d/sub/").file("etc/conf.d/sub/deep", "4")
                .file("var/x/y", "5").finish();
        byte[] middle = new TarWriter().file("etc/.wh.gone", "").file("etc/conf.d/new", "6")
                .file("etc/conf.d/sub/mid", "7").file("etc/.wh.never-existed", "").finish();
        byte[] top = new TarWriter().file("etc/conf.d/top", "8").file("etc/conf.d/sub/again", "9")
                .file("etc/conf.d/.wh..wh..opq", "").file("var/.wh.x", "").finish();
        Path root = unpack(base, middle, top);
        assertTrue(Files.exists(root.resolve("etc/keep")));
        assertFalse(Files.exists(root.resolve("etc/gone")));
        assertFalse(Files.exists(root.resolve("etc/.wh.gone")), "whiteout markers are not unpacked");
        try (Stream<Path> s = Files.walk(root.resolve("etc/conf.d"))) {
            assertEquals(Stream.of("", "top", "sub", "sub/again").sorted().toList(),
                    s.map(p -> root.resolve("etc/conf.d").relativize(p).toString()).sorted().toList(),
                    "an opaque directory keeps only what its own layer wrote");
        }
        assertFalse(Files.exists(root.resolve("var/x")), "a whiteout deletes a whole directory");
        assertTrue(Files.isDirectory(root.resolve("var")));
    }

    @Test
    void laterLayersReplaceFilesWithDirectoriesAndBack() throws Exception {
        byte[] first = new TarWriter().file("a", "file").dir("b/").file("b/inner", "x").symlink("c", "a").finish();
        byte[] second = new TarWriter().dir("a/").file("a/now-a-dir", "y").file("b", "now a file").file("c", "no longer a link").finish();
        Path root = unpack(first, second);
        assertTrue(Files.isDirectory(root.resolve("a")));
        assertEquals("now a file", Files.readString(root.resolve("b")));
        assertFalse(Files.isSymbolicLink(root.resolve("c")));
        assertEquals("no longer a link", Files.readString(root.resolve("c")));
    }

    @Test
    void writesThroughSymlinksWithinTheRootfsLikeAMergedUsrImage() throws Exception {
        byte[] base = new TarWriter().dir("usr/lib/").symlink("lib", "usr/lib").finish();
        byte[] next = new TarWriter().file("lib/libc.so", "libc").finish();
        Path root = unpack(base, next);
        assertEquals("libc", Files.readString(root.resolve("usr/lib/libc.so")));
        assertTrue(Files.isSymbolicLink(root.resolve("lib")));
    }
}
