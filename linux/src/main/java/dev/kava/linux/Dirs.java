package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.util.ArrayList;
import java.util.List;

/**
 * Directory listing with {@code getdents64(2)} on an open directory descriptor (not
 * {@code O_PATH}: reopen one with {@link FileSystem#reopen} and {@code O_RDONLY | O_DIRECTORY}).
 *
 * <p>Each {@link Entry} carries the directory offset of the entry after it: seeking the descriptor
 * there ({@link FileIo#lseek} with {@link FileIo#SEEK_SET}) resumes the listing after that entry.
 * That offset is an opaque cookie (a hash on ext4), not a byte or entry count.
 */
public final class Dirs {
    /** {@code d_type} values ({@code <dirent.h>}): the file type bits of the mode, shifted right by 12. */
    public static final int DT_UNKNOWN = 0;
    public static final int DT_FIFO = 1;
    public static final int DT_CHR = 2;
    public static final int DT_DIR = 4;
    public static final int DT_BLK = 6;
    public static final int DT_REG = 8;
    public static final int DT_LNK = 10;
    public static final int DT_SOCK = 12;

    /** Smallest buffer that holds any entry (a 255-byte name in a 280-byte record). */
    public static final int MIN_BUFFER = 512;

    /** {@code ssize_t getdents64(int fd, void *dirp, size_t count)} */
    private static final Native.Lazy GETDENTS64 = Native.lazyErrnoCall("getdents64",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));

    /**
     * One directory entry: inode number, the offset of the <em>next</em> entry, {@code DT_*} type
     * and the name's bytes (no NUL). Includes "." and "..".
     */
    public record Entry(long ino, long nextOffset, int type, byte[] name) {}

    private Dirs() {}

    /**
     * Reads the entries that fit in a buffer of {@code bufferSize} bytes (at least
     * {@link #MIN_BUFFER}) from the descriptor's current position, advancing it; an empty list
     * means the end of the directory.
     */
    public static List<Entry> read(Fd dir, int bufferSize) {
        if (bufferSize < MIN_BUFFER) {
            throw new IllegalArgumentException("buffer smaller than " + MIN_BUFFER + ": " + bufferSize);
        }
        int n = dir.acquire("getdents64");
        try (Arena arena = Arena.ofConfined()) {
            var buf = arena.allocate(bufferSize, 8);
            long len = FsCalls.run("getdents64", (st, a) ->
                    (long) GETDENTS64.handle().invokeExact(st, n, buf, (long) bufferSize));
            List<Entry> entries = new ArrayList<>();
            long pos = 0;
            while (pos < len) {
                var rec = buf.asSlice(pos);
                int reclen = Short.toUnsignedInt(rec.get(JAVA_SHORT, FsStructs.DIRENT_RECLEN));
                if (reclen < FsStructs.DIRENT_NAME + 1 || pos + reclen > len) {
                    throw new LinuxException("getdents64: malformed record at " + pos);
                }
                long nameLen = 0;
                long nameMax = reclen - FsStructs.DIRENT_NAME;
                while (nameLen < nameMax && rec.get(JAVA_BYTE, FsStructs.DIRENT_NAME + nameLen) != 0) {
                    nameLen++;
                }
                byte[] name = rec.asSlice(FsStructs.DIRENT_NAME, nameLen).toArray(JAVA_BYTE);
                entries.add(new Entry(
                        rec.get(JAVA_LONG, FsStructs.DIRENT_INO),
                        rec.get(JAVA_LONG, FsStructs.DIRENT_OFF),
                        Byte.toUnsignedInt(rec.get(JAVA_BYTE, FsStructs.DIRENT_TYPE)),
                        name));
                pos += reclen;
            }
            return entries;
        } finally {
            dir.release();
        }
    }
}
