package dev.kava.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;

/**
 * What {@code statfs(2)} tells about a mounted file system: glibc's {@code struct statfs}. Block
 * counts are in units of {@code frsize}; {@code type} is the file system's magic number (e.g.
 * {@link FileSystem#PROC_SUPER_MAGIC}).
 */
public record FsStats(long type, long bsize, long blocks, long bfree, long bavail, long files, long ffree,
                      long namelen, long frsize, long flags) {

    static FsStats read(MemorySegment s) {
        return new FsStats(
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_type")),
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_bsize")),
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_blocks")),
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_bfree")),
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_bavail")),
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_files")),
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_ffree")),
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_namelen")),
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_frsize")),
                s.get(JAVA_LONG, Structs.offset(FsStructs.STATFS, "f_flags")));
    }
}
