package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MountsTest {
    private static MountInfo find(Path target) {
        List<MountInfo> found = Mounts.mountInfo().stream().filter(m -> m.mountPoint().equals(target.toString())).toList();
        return found.isEmpty() ? null : found.getLast();
    }

    @Test
    void tmpfsMountAppearsInMountInfoAndGoesAwayOnUmount(@TempDir Path dir) throws Exception {
        // a space in the path: mountinfo writes it as \040
        Path target = Files.createDirectory(dir.resolve("kava tmpfs")).toRealPath();
        try {
            Mounts.mount("kava-test", target.toString(), "tmpfs", Mounts.MS_NOSUID | Mounts.MS_NODEV, "size=1m,mode=0755");
        } catch (ErrnoException e) {
            Assumptions.assumeTrue(e.errno() != Errno.EPERM, "cannot mount here: " + e.getMessage());
            throw e;
        }
        try {
            MountInfo m = find(target);
            assertTrue(m != null, "no mountinfo line for " + target);
            assertEquals("tmpfs", m.fsType());
            assertEquals("kava-test", m.source());
            assertEquals("/", m.root());
            List<String> options = Arrays.asList(m.options().split(","));
            assertTrue(options.contains("nosuid") && options.contains("nodev"), m.options());
            assertTrue(m.superOptions().contains("size=1024k"), m.superOptions());
            assertTrue(Mounts.isMountPoint(target.toString()));
            Files.writeString(target.resolve("f"), "x");

            // remount read-only: source, fstype and data all null
            Mounts.mount(null, target.toString(), null, Mounts.MS_REMOUNT | Mounts.MS_RDONLY | Mounts.MS_NOSUID | Mounts.MS_NODEV, null);
            assertTrue(Arrays.asList(find(target).options().split(",")).contains("ro"));
            ErrnoException e = assertThrows(ErrnoException.class, () -> Fd.open(target.resolve("g").toString(),
                    OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_CLOEXEC, 0644));
            assertEquals(Errno.EROFS, e.errno());
        } finally {
            Mounts.umount(target.toString(), 0);
        }
        assertFalse(Mounts.isMountPoint(target.toString()));
        assertEquals(null, find(target));
    }

    @Test
    void umountOfAPlainDirectoryThrowsEinval(@TempDir Path dir) {
        ErrnoException e = assertThrows(ErrnoException.class, () -> Mounts.umount(dir.toString(), Mounts.UMOUNT_NOFOLLOW));
        Assumptions.assumeTrue(e.errno() != Errno.EPERM, "cannot umount here: " + e.getMessage());
        assertEquals(Errno.EINVAL, e.errno());
    }

    @Test
    void detachSaysWhetherSomethingWasMounted(@TempDir Path dir) throws Exception {
        Path target = Files.createDirectory(dir.resolve("m")).toRealPath();
        try {
            Mounts.mount("kava-test", target.toString(), "tmpfs", Mounts.MS_NOSUID | Mounts.MS_NODEV, "size=1m");
        } catch (ErrnoException e) {
            Assumptions.assumeTrue(e.errno() != Errno.EPERM, "cannot mount here: " + e.getMessage());
            throw e;
        }
        assertTrue(Mounts.detach(target.toString()), "a tmpfs was mounted");
        assertFalse(Mounts.isMountPoint(target.toString()));
        assertFalse(Mounts.detach(target.toString()), "a plain directory (EINVAL)");
        assertFalse(Mounts.detach(dir.resolve("missing").toString()), "a missing path (ENOENT)");
    }

    @Test
    void rootIsAMountPointAndAMissingPathIsNot() {
        assertTrue(Mounts.isMountPoint("/"));
        assertTrue(Mounts.isMountPoint("/proc"));
        assertFalse(Mounts.isMountPoint("/nonexistent/kava"));
    }

    @Test
    void parsesLinesWithOptionalFieldsAndEscapes() {
        MountInfo m = Mounts.parseLine("36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue");
        assertEquals(new MountInfo(36, 35, "/mnt1", "/mnt 2", "rw,noatime", "ext3", "/dev/root", "rw,errors=continue"), m);
        MountInfo none = Mounts.parseLine("22 1 0:21 / /proc rw,nosuid - proc proc rw");
        assertEquals("proc", none.fsType());
        assertEquals("a\\b\tc", Mounts.unescape("a\\134b\\011c"));
        assertThrows(LinuxException.class, () -> Mounts.parseLine("garbage"));
    }
}
