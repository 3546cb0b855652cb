package dev.kava.virtio.fs;

import dev.kava.linux.LinuxException;
import dev.kava.linux.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The limits every share a kava process serves gets, whichever way it is served (inline in the
 * built-in VMM or behind vhost-user for QEMU): per share {@link #MAX_INODES} inodes and
 * {@link #MAX_HANDLES} open files, and for all shares of the process together one
 * {@link DescriptorBudget}, {@code RLIMIT_NOFILE} less {@link #RESERVED_FDS}. A guest holding all it
 * may therefore pins a bounded number of host inodes and never leaves the process without
 * descriptors, however many shares and guests the process serves.
 */
public final class ShareLimits {
    private static final System.Logger LOG = System.getLogger(ShareLimits.class.getName());

    /**
     * Inodes a guest may hold per share, each one host {@code O_PATH} descriptor. A guest holds what
     * its dentry cache holds, so a small cap would be ENFILE for a big tree; with
     * {@link #MAX_HANDLES} the sum bounds the host kernel memory a guest can pin (~1 KiB each).
     */
    public static final int MAX_INODES = 131_072;
    /** Files and directories a guest may hold open per share. */
    public static final int MAX_HANDLES = 8_192;
    /** Descriptors kept for everything else the process does. */
    public static final int RESERVED_FDS = 2_048;
    /** Shares the process raises its limit for at the first share (each at its full caps). */
    private static final int SHARES_PLANNED = 4;

    private static DescriptorBudget budget;

    private ShareLimits() {}

    /** {@code FsConfig.of(sharedDir)} with the per-share caps and the process's budget. */
    public static FsConfig configFor(Path sharedDir) {
        return FsConfig.of(sharedDir).withLimits(MAX_INODES, MAX_HANDLES).withBudget(processBudget());
    }

    /**
     * The descriptors every share of this process draws from: RLIMIT_NOFILE, raised once for a few
     * shares at full size where the process may, less {@link #RESERVED_FDS}.
     */
    public static synchronized DescriptorBudget processBudget() {
        if (budget == null) {
            budget = new DescriptorBudget(Math.max(0, raiseOpenFileLimit() - RESERVED_FDS));
        }
        return budget;
    }

    /**
     * Raises RLIMIT_NOFILE (as root the hard limit too, up to {@code fs.nr_open}) so that a few
     * shares get their full caps; returns the soft limit in effect.
     */
    private static long raiseOpenFileLimit() {
        long wanted = RESERVED_FDS + (long) SHARES_PLANNED * (MAX_INODES + MAX_HANDLES);
        try {
            wanted = Math.min(wanted, Long.parseLong(Files.readString(Path.of("/proc/sys/fs/nr_open")).strip()));
        } catch (IOException | NumberFormatException e) {
            // the kernel refuses what is too much; the hard limit then stays
        }
        try {
            return Processes.raiseOpenFileLimit(wanted);
        } catch (LinuxException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot raise RLIMIT_NOFILE: " + e.getMessage());
            return 1024;
        }
    }
}
