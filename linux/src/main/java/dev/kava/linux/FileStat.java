package dev.kava.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;

/**
 * What {@code stat(2)} tells about a file: glibc's {@code struct stat} as a record. Times are
 * seconds and nanoseconds since the epoch; {@code dev} and {@code rdev} are glibc {@code dev_t}
 * values (split them with {@link #major(long)} / {@link #minor(long)}).
 */
public record FileStat(long dev, long ino, long nlink, int mode, int uid, int gid, long rdev, long size,
                       long blksize, long blocks, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec,
                       long ctimeSec, long ctimeNsec) {

    /** The file type bits, {@code mode & S_IFMT}. */
    public int type() {
        return mode & FileSystem.S_IFMT;
    }

    public boolean isDirectory() {
        return type() == FileSystem.S_IFDIR;
    }

    public boolean isRegular() {
        return type() == FileSystem.S_IFREG;
    }

    public boolean isSymlink() {
        return type() == FileSystem.S_IFLNK;
    }

    /** The major number of a glibc {@code dev_t}, {@code major(3)}. */
    public static int major(long dev) {
        return (int) (((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL));
    }

    /** The minor number of a glibc {@code dev_t}, {@code minor(3)}. */
    public static int minor(long dev) {
        return (int) ((dev & 0xff) | ((dev >>> 12) & ~0xffL));
    }

    /** A glibc {@code dev_t} from its parts, {@code makedev(3)}. */
    public static long makedev(int major, int minor) {
        long maj = Integer.toUnsignedLong(major);
        long min = Integer.toUnsignedLong(minor);
        return ((maj & 0xfff) << 8) | ((maj & ~0xfffL) << 32) | (min & 0xff) | ((min & ~0xffL) << 12);
    }

    static FileStat read(MemorySegment st) {
        return new FileStat(
                st.get(JAVA_LONG, FsStructs.STAT_DEV),
                st.get(JAVA_LONG, FsStructs.STAT_INO),
                st.get(JAVA_LONG, FsStructs.STAT_NLINK),
                st.get(JAVA_INT, FsStructs.STAT_MODE),
                st.get(JAVA_INT, FsStructs.STAT_UID),
                st.get(JAVA_INT, FsStructs.STAT_GID),
                st.get(JAVA_LONG, FsStructs.STAT_RDEV),
                st.get(JAVA_LONG, FsStructs.STAT_SIZE),
                st.get(JAVA_LONG, FsStructs.STAT_BLKSIZE),
                st.get(JAVA_LONG, FsStructs.STAT_BLOCKS),
                st.get(JAVA_LONG, FsStructs.STAT_ATIM),
                st.get(JAVA_LONG, FsStructs.STAT_ATIM + 8),
                st.get(JAVA_LONG, FsStructs.STAT_MTIM),
                st.get(JAVA_LONG, FsStructs.STAT_MTIM + 8),
                st.get(JAVA_LONG, FsStructs.STAT_CTIM),
                st.get(JAVA_LONG, FsStructs.STAT_CTIM + 8));
    }
}
