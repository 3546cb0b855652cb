package dev.kava.linux;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.StructLayout;
import java.util.List;

/**
 * C structs of the file system calls ({@link FileSystem}, {@link FileIo}, {@link Dirs}) on x86-64
 * Linux / glibc, padding spelled out, named after their C types and fields like {@link Structs}:
 * {@code FileSystemLayoutTest} checks every size and offset against the headers with gcc.
 */
final class FsStructs {
    private FsStructs() {}

    /** glibc's {@code struct stat} from {@code stat(2)} (x86-64: 144 bytes). */
    static final StructLayout STAT = structLayout(
            JAVA_LONG.withName("st_dev"),
            JAVA_LONG.withName("st_ino"),
            JAVA_LONG.withName("st_nlink"),
            JAVA_INT.withName("st_mode"),
            JAVA_INT.withName("st_uid"),
            JAVA_INT.withName("st_gid"),
            paddingLayout(4),
            JAVA_LONG.withName("st_rdev"),
            JAVA_LONG.withName("st_size"),
            JAVA_LONG.withName("st_blksize"),
            JAVA_LONG.withName("st_blocks"),
            Structs.TIMESPEC.withName("st_atim"),
            Structs.TIMESPEC.withName("st_mtim"),
            Structs.TIMESPEC.withName("st_ctim"),
            paddingLayout(24)
    ).withName("struct stat");

    /** glibc's {@code struct statfs} from {@code statfs(2)}. */
    static final StructLayout STATFS = structLayout(
            JAVA_LONG.withName("f_type"),
            JAVA_LONG.withName("f_bsize"),
            JAVA_LONG.withName("f_blocks"),
            JAVA_LONG.withName("f_bfree"),
            JAVA_LONG.withName("f_bavail"),
            JAVA_LONG.withName("f_files"),
            JAVA_LONG.withName("f_ffree"),
            sequenceLayout(2, JAVA_INT).withName("f_fsid"),
            JAVA_LONG.withName("f_namelen"),
            JAVA_LONG.withName("f_frsize"),
            JAVA_LONG.withName("f_flags"),
            sequenceLayout(4, JAVA_LONG).withName("f_spare")
    ).withName("struct statfs");

    /** {@code struct open_how} from {@code openat2(2)} ({@code <linux/openat2.h>}). */
    static final StructLayout OPEN_HOW = structLayout(
            JAVA_LONG.withName("flags"),
            JAVA_LONG.withName("mode"),
            JAVA_LONG.withName("resolve")
    ).withName("struct open_how");

    /**
     * glibc's {@code struct dirent64}, the record {@code getdents64(2)} writes
     * ({@code struct linux_dirent64} in the kernel). Records are {@code d_reclen} long; the name
     * is NUL-terminated inside the record, so only the fixed part is read through this layout.
     */
    static final StructLayout DIRENT64 = structLayout(
            JAVA_LONG.withName("d_ino"),
            JAVA_LONG.withName("d_off"),
            JAVA_SHORT.withName("d_reclen"),
            JAVA_BYTE.withName("d_type"),
            sequenceLayout(256, JAVA_BYTE).withName("d_name"),
            paddingLayout(5)
    ).withName("struct dirent64");

    /** Every layout above, for the layout test. */
    static final List<StructLayout> ALL = List.of(STAT, STATFS, OPEN_HOW, DIRENT64);

    static final long STAT_DEV = Structs.offset(STAT, "st_dev");
    static final long STAT_INO = Structs.offset(STAT, "st_ino");
    static final long STAT_NLINK = Structs.offset(STAT, "st_nlink");
    static final long STAT_MODE = Structs.offset(STAT, "st_mode");
    static final long STAT_UID = Structs.offset(STAT, "st_uid");
    static final long STAT_GID = Structs.offset(STAT, "st_gid");
    static final long STAT_RDEV = Structs.offset(STAT, "st_rdev");
    static final long STAT_SIZE = Structs.offset(STAT, "st_size");
    static final long STAT_BLKSIZE = Structs.offset(STAT, "st_blksize");
    static final long STAT_BLOCKS = Structs.offset(STAT, "st_blocks");
    static final long STAT_ATIM = Structs.offset(STAT, "st_atim");
    static final long STAT_MTIM = Structs.offset(STAT, "st_mtim");
    static final long STAT_CTIM = Structs.offset(STAT, "st_ctim");

    static final long DIRENT_INO = Structs.offset(DIRENT64, "d_ino");
    static final long DIRENT_OFF = Structs.offset(DIRENT64, "d_off");
    static final long DIRENT_RECLEN = Structs.offset(DIRENT64, "d_reclen");
    static final long DIRENT_TYPE = Structs.offset(DIRENT64, "d_type");
    static final long DIRENT_NAME = Structs.offset(DIRENT64, "d_name");
}
