package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.testing.CHeaders;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Like {@link StructLayoutTest}, for the file system calls: every struct in {@link FsStructs}
 * ({@code struct stat}, {@code struct statfs}, {@code struct open_how}, {@code struct dirent64}) and
 * every constant of {@link FileSystem}, {@link FileIo}, {@link Xattrs} and {@link Dirs}.
 */
class FileSystemLayoutTest {
    private static final List<String> HEADERS = List.of(
            "limits.h", "fcntl.h", "unistd.h", "dirent.h", "time.h", "sys/stat.h",
            "sys/statfs.h", "sys/xattr.h", "linux/openat2.h", "linux/magic.h", "linux/limits.h",
            "linux/falloc.h");

    @Test
    void fileSystemLayoutsAndConstantsMatchTheCHeaders(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        CHeaders.addStructs(expected, FsStructs.ALL);
        for (Class<?> holder : List.of(FileSystem.class, FileIo.class, Xattrs.class, Dirs.class)) {
            CHeaders.addConstants(expected, holder, "MIN_BUFFER");
        }
        assertTrue(expected.size() > 80, "checks: " + expected.size());
        CHeaders.assertMatch(dir, HEADERS, expected);
    }
}
