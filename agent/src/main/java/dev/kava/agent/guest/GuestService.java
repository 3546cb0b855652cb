package dev.kava.agent.guest;

import dev.kava.agent.AgentErrors;
import dev.kava.api.agent.AgentDetails;
import dev.kava.api.agent.CopyFileRequest;
import dev.kava.api.agent.GuestDetailsResponse;
import dev.kava.linux.LinuxException;
import dev.kava.linux.SystemCalls;
import dev.kava.ttrpc.TtrpcException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

/** SetGuestDateTime, CopyFile and GetGuestDetails. */
public final class GuestService {
    /** The agent's version, as Health.Version and GetGuestDetails report it. */
    public static final String VERSION = "0.1.0";

    private final Path copyRoot;

    /** {@code copyRoot}: the only tree CopyFile writes to (the state directory, /run/kava). */
    public GuestService(Path copyRoot) {
        this.copyRoot = copyRoot.toAbsolutePath().normalize();
    }

    public void setDateTime(long sec, long usec) throws TtrpcException {
        if (sec < 0 || usec < 0 || usec >= 1_000_000) {
            throw AgentErrors.invalid("time " + sec + " s " + usec + " us is out of range");
        }
        try {
            SystemCalls.setRealtimeClock(sec, usec * 1000);
        } catch (LinuxException e) {
            throw AgentErrors.internal("set clock: " + e.getMessage());
        }
    }

    /**
     * Writes {@code data} at {@code offset} of a file under the copy root, creating parent
     * directories with {@code dir_mode}; the file gets {@code file_mode} and the owner once the
     * last chunk ({@code offset + data == file_size}) is written.
     */
    public void copyFile(CopyFileRequest req) throws Exception {
        Path target = checkPath(req.getPath());
        long end = req.getOffset() + req.getData().size();
        if (req.getOffset() < 0 || req.getFileSize() < 0 || (req.getFileSize() > 0 && end > req.getFileSize())) {
            throw AgentErrors.invalid("copy " + req.getPath() + ": " + req.getData().size() + " bytes at offset "
                    + req.getOffset() + " do not fit a file of " + req.getFileSize());
        }
        createDirectories(target.getParent(), req.getDirMode() == 0 ? 0755 : req.getDirMode());
        if (Files.isSymbolicLink(target)) {
            throw AgentErrors.denied("copy " + req.getPath() + ": is a symbolic link");
        }
        try (FileChannel ch = FileChannel.open(target, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            if (req.getOffset() == 0) {
                ch.truncate(0);
            }
            ByteBuffer buf = req.getData().asReadOnlyByteBuffer();
            long pos = req.getOffset();
            while (buf.hasRemaining()) {
                pos += ch.write(buf, pos);
            }
        }
        if (end >= req.getFileSize()) {
            Files.setPosixFilePermissions(target, permissions(req.getFileMode() == 0 ? 0644 : req.getFileMode()));
            if (req.getUid() >= 0 && req.getGid() >= 0 && (req.getUid() != 0 || req.getGid() != 0)) {
                Files.setAttribute(target, "unix:uid", req.getUid(), LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(target, "unix:gid", req.getGid(), LinkOption.NOFOLLOW_LINKS);
            }
        }
    }

    /** An absolute path strictly under the copy root, with no symbolic link leading out. */
    Path checkPath(String path) throws TtrpcException {
        if (!path.startsWith("/") || path.indexOf('\0') >= 0) {
            throw AgentErrors.invalid("copy: `" + path + "` is not an absolute path");
        }
        for (String part : path.split("/")) {
            if (part.equals("..")) {
                throw AgentErrors.denied("copy: `" + path + "` must not contain `..`");
            }
        }
        Path p = Path.of(path).normalize();
        if (!p.startsWith(copyRoot) || p.equals(copyRoot)) {
            throw AgentErrors.denied("copy: `" + path + "` is outside " + copyRoot);
        }
        // every existing ancestor must resolve inside the root (no symlink escapes)
        try {
            Path realRoot = copyRoot.toRealPath();
            for (Path a = p.getParent(); a != null && a.startsWith(copyRoot); a = a.getParent()) {
                if (Files.exists(a, LinkOption.NOFOLLOW_LINKS) && !a.toRealPath().startsWith(realRoot)) {
                    throw AgentErrors.denied("copy: `" + path + "` leads outside " + copyRoot);
                }
            }
        } catch (IOException e) {
            throw AgentErrors.internal("copy: " + e.getMessage());
        }
        return p;
    }

    private static void createDirectories(Path dir, int mode) throws IOException {
        if (dir == null || Files.isDirectory(dir)) {
            return;
        }
        createDirectories(dir.getParent(), mode);
        Files.createDirectory(dir);
        Files.setPosixFilePermissions(dir, permissions(mode));
    }

    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
        for (int i = 0; i < order.length; i++) {
            if ((mode & (1 << i)) != 0) {
                s.add(order[i]);
            }
        }
        return s;
    }

    /** GetGuestDetails. */
    public GuestDetailsResponse details(boolean memBlockSize, boolean initDaemon) {
        AgentDetails.Builder a = AgentDetails.newBuilder()
                .setVersion(VERSION)
                .setInitDaemon(initDaemon ? "kava-agent" : "")
                .addAllStorageHandlers(StorageMounts.DRIVERS)
                .setSupportsSeccomp(procStatus("Seccomp:") != null);
        try {
            a.setKernelRelease(SystemCalls.kernelRelease());
        } catch (LinuxException e) {
            // leave empty
        }
        GuestDetailsResponse.Builder b = GuestDetailsResponse.newBuilder().setAgentDetails(a)
                .setMemTotalBytes(meminfo("MemTotal:"))
                .setMemFreeBytes(meminfo("MemFree:"))
                .setMemAvailableBytes(meminfo("MemAvailable:"));
        if (memBlockSize) {
            try {
                String hex = Files.readString(Path.of("/sys/devices/system/memory/block_size_bytes")).strip();
                b.setMemBlockSizeBytes(Long.parseUnsignedLong(hex, 16));
            } catch (IOException | NumberFormatException e) {
                // no memory hotplug in this kernel
            }
        }
        return b.build();
    }

    /** A field of /proc/meminfo ("MemFree:"), in bytes; 0 when missing. */
    static long meminfo(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith(key)) {
                    String[] f = line.substring(key.length()).trim().split("\\s+");
                    return Long.parseLong(f[0]) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through
        }
        return 0;
    }

    private static String procStatus(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    return line.substring(key.length()).strip();
                }
            }
        } catch (IOException e) {
            // fall through
        }
        return null;
    }
}
