package dev.kava.linux;

import static dev.kava.linux.FileSystem.name;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class XattrsTest {
    @TempDir
    Path tmp;

    private boolean userXattrs() throws Exception {
        Path probe = Files.writeString(tmp.resolve("probe"), "");
        try {
            Files.getFileAttributeView(probe, UserDefinedFileAttributeView.class)
                    .write("probe", java.nio.ByteBuffer.wrap(new byte[] {1}));
            return true;
        } catch (Exception e) {
            System.out.println("SKIP: " + tmp + " takes no user xattrs: " + e);
            return false;
        }
    }

    @Test
    void setGetListRemoveOnAnOPathDescriptor() throws Exception {
        assumeTrue(userXattrs(), "temp file system without user xattrs");
        Files.writeString(tmp.resolve("f"), "");
        try (Arena arena = Arena.ofConfined();
             Fd f = Fd.open(tmp.resolve("f").toString(), OpenFlags.O_PATH | OpenFlags.O_CLOEXEC, 0)) {
            Xattrs.set(f, name("user.kava"), arena.allocateFrom("value"), Xattrs.XATTR_CREATE);
            assertEquals(Errno.EEXIST, assertThrows(ErrnoException.class, () ->
                    Xattrs.set(f, name("user.kava"), arena.allocateFrom("v"), Xattrs.XATTR_CREATE)).errno());
            assertEquals(6, Xattrs.get(f, name("user.kava"), MemorySegment.NULL));
            MemorySegment small = arena.allocate(3);
            assertEquals(Errno.ERANGE, assertThrows(ErrnoException.class, () -> Xattrs.get(f, name("user.kava"), small)).errno());
            MemorySegment buf = arena.allocate(64);
            int n = Xattrs.get(f, name("user.kava"), buf);
            assertEquals("value", buf.getString(0));
            assertEquals(6, n);
            int len = Xattrs.list(f, MemorySegment.NULL);
            MemorySegment list = arena.allocate(len);
            assertEquals(len, Xattrs.list(f, list));
            assertArrayEquals(name("user.kava\0"), list.toArray(ValueLayout.JAVA_BYTE));
            Xattrs.remove(f, name("user.kava"));
            assertEquals(Errno.ENODATA, assertThrows(ErrnoException.class, () -> Xattrs.get(f, name("user.kava"), buf)).errno());
        }
    }

    @Test
    void aSymlinkDescriptorNeverShowsItsTargetsAttributes() throws Exception {
        assumeTrue(userXattrs(), "temp file system without user xattrs");
        Path target = Files.writeString(tmp.resolve("target"), "");
        Files.getFileAttributeView(target, UserDefinedFileAttributeView.class)
                .write("secret", java.nio.ByteBuffer.wrap(new byte[] {42}));
        Files.createSymbolicLink(tmp.resolve("link"), target);
        try (Arena arena = Arena.ofConfined();
             Fd link = Fd.open(tmp.resolve("link").toString(), OpenFlags.O_PATH | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC, 0)) {
            assertEquals(Errno.ENODATA, assertThrows(ErrnoException.class, () ->
                    Xattrs.get(link, name("user.secret"), MemorySegment.NULL)).errno());
            assertEquals(0, Xattrs.list(link, MemorySegment.NULL));
            // user.* attributes are not allowed on symlinks: the set lands on the link and fails
            assertEquals(Errno.EPERM, assertThrows(ErrnoException.class, () ->
                    Xattrs.set(link, name("user.x"), arena.allocateFrom("1"), 0)).errno());
        }
        assertEquals(1, Files.getFileAttributeView(target, UserDefinedFileAttributeView.class).list().size());
    }
}
