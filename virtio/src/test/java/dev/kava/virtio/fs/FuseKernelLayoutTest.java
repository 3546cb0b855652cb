package dev.kava.virtio.fs;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.testing.CHeaders;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles a C program against {@code <linux/fuse.h>} with gcc and checks every constant of
 * {@link FuseKernel} (opcodes, flags, struct sizes) and every struct field offset the server's
 * code reads or writes as a literal.
 */
class FuseKernelLayoutTest {
    /** Java-only numbers: our protocol choices, not the header's. */
    private static final Set<String> NOT_C = Set.of("FUSE_KERNEL_MINOR_VERSION", "MIN_MINOR_VERSION");
    /** Sizes without a C name of the same shape. */
    private static final Map<String, String> C_EXPRESSIONS = Map.of(
            "INIT_IN_SIZE", "offsetof(struct fuse_init_in, flags2)",
            "INIT_IN_EXT_SIZE", "sizeof(struct fuse_init_in)",
            "SETXATTR_IN_SIZE", "FUSE_COMPAT_SETXATTR_IN_SIZE",
            "DIRENT_NAME_OFFSET", "offsetof(struct fuse_dirent, name)",
            "DIRENTPLUS_NAME_OFFSET", "offsetof(struct fuse_direntplus, dirent.name)",
            "FATTR_SIZE", "FATTR_SIZE",
            "NAME_MAX", "NAME_MAX",
            "PATH_MAX", "PATH_MAX");

    /** Field offsets used as literals in PassthroughFs, FileOps, DirOps, XattrOps, FuseServer and Reply. */
    private static final Map<String, Long> OFFSETS = offsets(
            "fuse_in_header", "opcode=4 unique=8 nodeid=16 uid=24 gid=28 pid=32",
            "fuse_out_header", "error=4 unique=8",
            "fuse_init_in", "major=0 minor=4 max_readahead=8 flags=12",
            "fuse_init_out", "max_readahead=8 flags=12 max_background=16 congestion_threshold=18 max_write=20 "
                    + "time_gran=24 max_pages=28 map_alignment=30 flags2=32",
            "fuse_setattr_in", "valid=0 fh=8 size=16 atime=32 mtime=40 atimensec=56 mtimensec=60 mode=68 uid=76 gid=80",
            "fuse_attr", "size=8 blocks=16 atime=24 mtime=32 ctime=40 atimensec=48 mtimensec=52 ctimensec=56 "
                    + "mode=60 nlink=64 uid=68 gid=72 rdev=76 blksize=80 flags=84",
            "fuse_entry_out", "generation=8 entry_valid=16 attr_valid=24 entry_valid_nsec=32 attr_valid_nsec=36 attr=40",
            "fuse_attr_out", "attr_valid_nsec=8 attr=16",
            "fuse_kstatfs", "bfree=8 bavail=16 files=24 ffree=32 bsize=40 namelen=44 frsize=48",
            "fuse_read_in", "fh=0 offset=8 size=16",
            "fuse_write_in", "fh=0 offset=8 size=16",
            "fuse_write_out", "size=0",
            "fuse_rename2_in", "newdir=0 flags=8",
            "fuse_link_in", "oldnodeid=0",
            "fuse_create_in", "flags=0 mode=4 umask=8",
            "fuse_mknod_in", "mode=0 rdev=4 umask=8",
            "fuse_mkdir_in", "mode=0 umask=4",
            "fuse_open_in", "flags=0",
            "fuse_open_out", "fh=0 open_flags=8",
            "fuse_release_in", "fh=0",
            "fuse_flush_in", "fh=0",
            "fuse_fsync_in", "fh=0 fsync_flags=8",
            "fuse_fallocate_in", "offset=8 length=16 mode=24",
            "fuse_lseek_in", "offset=8 whence=16",
            "fuse_copy_file_range_in", "off_in=8 nodeid_out=16 fh_out=24 off_out=32 len=40 flags=48",
            "fuse_setxattr_in", "size=0 flags=4",
            "fuse_getxattr_in", "size=0",
            "fuse_getxattr_out", "size=0",
            "fuse_access_in", "mask=0",
            "fuse_forget_in", "nlookup=0",
            "fuse_forget_one", "nodeid=0 nlookup=8",
            "fuse_batch_forget_in", "count=0",
            "fuse_dirent", "ino=0 off=8 namelen=16 type=20");

    private static Map<String, Long> offsets(String... pairs) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            for (String f : pairs[i + 1].split(" ")) {
                String[] kv = f.split("=");
                m.put("offsetof(struct " + pairs[i] + ", " + kv[0] + ")", Long.parseLong(kv[1]));
            }
        }
        return m;
    }

    @Test
    void protocolConstantsAndLayoutsMatchLinuxFuseH(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        for (Field f : FuseKernel.class.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (!Modifier.isStatic(mod) || !Modifier.isFinal(mod) || NOT_C.contains(f.getName())) {
                continue;
            }
            f.setAccessible(true);
            String name = f.getName();
            String c = C_EXPRESSIONS.getOrDefault(name, name.endsWith("_SIZE")
                    ? "sizeof(struct fuse_" + name.substring(0, name.length() - 5).toLowerCase(Locale.ROOT) + ")"
                    : name);
            if (f.getType() == int.class) {
                expected.put("(unsigned long long)(unsigned int)(" + c + ")", Integer.toUnsignedLong(f.getInt(null)));
            } else if (f.getType() == long.class) {
                expected.put("(unsigned long long)(" + c + ")", f.getLong(null));
            }
        }
        OFFSETS.forEach((expr, value) -> expected.put("(unsigned long long)" + expr, value));
        expected.put("(unsigned long long)(FUSE_KERNEL_MINOR_VERSION >= " + FuseKernel.FUSE_KERNEL_MINOR_VERSION + ")", 1L);
        assertTrue(expected.size() > 150, "checks: " + expected.size());

        CHeaders.assertMatch(dir, List.of("linux/limits.h", "linux/fuse.h"), expected);
    }
}
