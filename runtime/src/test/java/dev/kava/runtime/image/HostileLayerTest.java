package dev.kava.runtime.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Layers crafted to escape the rootfs. Each must be refused (ImageException) or neutralised (written
 * inside the rootfs); either way the canary outside stays as it was and nothing appears next to it.
 */
class HostileLayerTest {
    @TempDir Path tmp;
    private Path outside;
    private Path canary;
    private Path root;
    private List<String> outsideBefore;

    @BeforeEach
    void setUp() throws IOException {
        outside = Files.createDirectories(tmp.resolve("outside"));
        canary = Files.writeString(outside.resolve("canary"), "original");
        root = Files.createDirectories(tmp.resolve("cache/images/x/rootfs"));
        outsideBefore = listing(tmp, root);
    }

    @AfterEach
    void canaryIsUntouched() throws IOException {
        assertEquals("original", Files.readString(canary));
        assertEquals(1, (int) Files.getAttribute(canary, "unix:nlink"), "no hardlink to the canary was made");
        assertEquals(outsideBefore, listing(tmp, root), "nothing outside the rootfs was created or deleted");
    }

    /** Every path under dir except those inside the rootfs. */
    private static List<String> listing(Path dir, Path exclude) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> !p.startsWith(exclude)).map(Path::toString).sorted().toList();
        }
    }

    private void unpack(byte[]... layers) throws Exception {
        LayerUnpacker unpacker = new LayerUnpacker(root);
        for (byte[] layer : layers) {
            unpacker.apply(new ByteArrayInputStream(layer), "evil");
        }
    }

    private String canaryFromRoot() {
        return "../../../../outside/canary";  // rootfs is tmp/cache/images/x/rootfs
    }

    @Test
    void dotDotNamesAreClampedToTheRootfs() throws Exception {
        unpack(new TarWriter().file(canaryFromRoot(), "pwned").file("a/../../../../outside/new", "pwned").finish());
        assertEquals("pwned", Files.readString(root.resolve("outside/canary")));
        assertTrue(Files.exists(root.resolve("outside/new")));
    }

    @Test
    void absoluteNamesLandInsideTheRootfs() throws Exception {
        unpack(new TarWriter().file(canary.toString(), "pwned").finish());
        assertEquals("pwned", Files.readString(root.resolve(canary.toString().substring(1))));
    }

    @Test
    void absoluteSymlinkFromAnEarlierLayerIsResolvedInsideTheRootfs() throws Exception {
        byte[] first = new TarWriter().symlink("etc", outside.toString()).finish();
        byte[] second = new TarWriter().file("etc/canary", "pwned").file("etc/created", "pwned").finish();
        unpack(first, second);
        assertEquals("pwned", Files.readString(root.resolve(outside.toString().substring(1)).resolve("canary")));
    }

    @Test
    void relativeSymlinkClimbingOutIsClampedAtTheRoot() throws Exception {
        byte[] first = new TarWriter().symlink("up", "../../../../../../..").finish();
        byte[] second = new TarWriter().file("up/outside/canary", "pwned").file("up/" + tmp.getFileName() + "/x", "pwned").finish();
        unpack(first, second);
        assertEquals("pwned", Files.readString(root.resolve("outside/canary")));
    }

    @Test
    void symlinkAndWriteThroughItInTheSameLayer() throws Exception {
        unpack(new TarWriter().symlink("d", outside.toString()).file("d/canary", "pwned").finish());
        assertTrue(Files.isSymbolicLink(root.resolve("d")), "the symlink itself is kept as the image made it");
    }

    @Test
    void chainedSymlinksCannotEscapeEither() throws Exception {
        unpack(new TarWriter().symlink("a", "b/..").symlink("b", "../..").dir("c/").symlink("c/d", "../../../../..")
                .file("a/outside/canary", "pwned").file("c/d/outside/canary", "pwned").finish());
    }

    @Test
    void symlinkLoopsAreRefused() {
        ImageException e = assertThrows(ImageException.class,
                () -> unpack(new TarWriter().symlink("a", "b").symlink("b", "a").file("a/x", "x").finish()));
        assertTrue(e.getMessage().contains("too many levels of symbolic links"), e.getMessage());
    }

    @Test
    void fileReplacingASymlinkDoesNotWriteThroughIt() throws Exception {
        unpack(new TarWriter().symlink("passwd", canary.toString()).finish(), new TarWriter().file("passwd", "pwned").finish());
        assertFalse(Files.isSymbolicLink(root.resolve("passwd")));
        assertEquals("pwned", Files.readString(root.resolve("passwd")));
    }

    @Test
    void hardlinkToAnAbsolutePathOutsideIsRefused() {
        ImageException e = assertThrows(ImageException.class,
                () -> unpack(new TarWriter().hardlink("stolen", canary.toString()).finish()));
        assertTrue(e.getMessage().contains("not in the image"), e.getMessage());
    }

    @Test
    void hardlinkWithDotDotIsRefused() {
        assertThrows(ImageException.class, () -> unpack(new TarWriter().hardlink("stolen", canaryFromRoot()).finish()));
    }

    @Test
    void hardlinkThroughASymlinkToOutsideIsRefused() {
        assertThrows(ImageException.class, () -> unpack(
                new TarWriter().symlink("o", outside.toString()).finish(),
                new TarWriter().hardlink("stolen", "o/canary").finish()));
    }

    @Test
    void hardlinkToASymlinkLinksTheSymlinkNotItsTarget() throws Exception {
        unpack(new TarWriter().symlink("s", canary.toString()).hardlink("h", "s").finish());
        assertTrue(Files.isSymbolicLink(root.resolve("h")));
    }

    @Test
    void whiteoutThroughASymlinkCannotDeleteOutside() throws Exception {
        unpack(new TarWriter().symlink("o", outside.toString()).symlink("p", "../../../../outside").finish(),
                new TarWriter().file("o/.wh.canary", "").file("p/.wh.canary", "").file(".wh.o", "").finish());
        assertFalse(Files.exists(root.resolve("o"), java.nio.file.LinkOption.NOFOLLOW_LINKS), "the whiteout removed the symlink itself");
    }

    @Test
    void opaqueMarkerThroughASymlinkCannotEmptyOutside() throws Exception {
        unpack(new TarWriter().symlink("o", outside.toString()).finish(),
                new TarWriter().file("o/.wh..wh..opq", "").file("../../../../outside/.wh..wh..opq", "").finish());
    }

    @Test
    void whiteoutOfDotDotIsRefused() {
        assertThrows(ImageException.class, () -> unpack(new TarWriter().dir("d/").file("d/.wh..", "").finish()));
    }

    @Test
    void namesWithNulBytesAreRefused() {
        assertThrows(ImageException.class, () -> unpack(new TarWriter().file("pax-nul", "x").finish(),
                paxNamed("a\0b")));
    }

    private static byte[] paxNamed(String name) {
        TarWriter w = new TarWriter();
        w.pax('x', "path", name);
        return w.file("placeholder", "x").finish();
    }
}
