package dev.kava.virtio.fs;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Configuration of one {@link FuseServer}: which host directory it shares and how much of the host
 * the guest may hold.
 *
 * <p>Every inode the guest has looked up (and not yet forgotten) holds one host {@code O_PATH}
 * descriptor, and every open file or directory one more: {@code maxInodes + maxHandles} must stay
 * well below the process's {@code RLIMIT_NOFILE}, which the VMM shares with everything else it
 * does. Beyond {@code maxInodes} lookups fail with ENFILE, beyond {@code maxHandles} opens fail
 * with EMFILE; nothing grows past them.
 *
 * @param sharedDir  the host directory the guest sees as its root; everything the server touches
 *                   lies beneath it (submounts under it included)
 * @param cache      guest caching policy
 * @param maxInodes  most inodes known to the guest at once, the root included
 * @param maxHandles most open files and directories at once
 * @param maxWrite   largest READ/WRITE payload, a multiple of 4096 in [4 KiB, 16 MiB]; advertised
 *                   as {@code max_write} and {@code max_pages} (Linux caps it at 1 MiB)
 * @param xattrs     whether extended attributes are served; when false the xattr requests answer
 *                   ENOSYS, which the guest kernel remembers and turns into EOPNOTSUPP
 * @param budget     descriptors shared with the other servers of this process (ENFILE/EMFILE when it
 *                   runs out, as when a cap is reached)
 */
public record FsConfig(Path sharedDir, CacheMode cache, int maxInodes, int maxHandles, int maxWrite, boolean xattrs,
                       DescriptorBudget budget) {
    public static final int DEFAULT_MAX_INODES = 16_384;
    public static final int DEFAULT_MAX_HANDLES = 2_048;
    public static final int DEFAULT_MAX_WRITE = 1 << 20;

    public FsConfig {
        Objects.requireNonNull(sharedDir, "sharedDir");
        Objects.requireNonNull(cache, "cache");
        Objects.requireNonNull(budget, "budget");
        if (!sharedDir.isAbsolute()) {
            throw new IllegalArgumentException("sharedDir must be absolute: " + sharedDir);
        }
        if (maxInodes < 1) {
            throw new IllegalArgumentException("maxInodes must be at least 1 (the root): " + maxInodes);
        }
        if (maxHandles < 0) {
            throw new IllegalArgumentException("maxHandles must not be negative: " + maxHandles);
        }
        if (maxWrite < 4096 || maxWrite > 1 << 24 || maxWrite % 4096 != 0) {
            throw new IllegalArgumentException("maxWrite must be a multiple of 4096 in [4096, 16 MiB]: " + maxWrite);
        }
    }

    /** Defaults: {@link CacheMode#AUTO}, the default limits, 1 MiB transfers, xattrs on, no shared budget. */
    public static FsConfig of(Path sharedDir) {
        return new FsConfig(sharedDir, CacheMode.AUTO, DEFAULT_MAX_INODES, DEFAULT_MAX_HANDLES, DEFAULT_MAX_WRITE, true,
                DescriptorBudget.UNLIMITED);
    }

    public FsConfig withCache(CacheMode cache) {
        return new FsConfig(sharedDir, cache, maxInodes, maxHandles, maxWrite, xattrs, budget);
    }

    public FsConfig withLimits(int maxInodes, int maxHandles) {
        return new FsConfig(sharedDir, cache, maxInodes, maxHandles, maxWrite, xattrs, budget);
    }

    public FsConfig withMaxWrite(int maxWrite) {
        return new FsConfig(sharedDir, cache, maxInodes, maxHandles, maxWrite, xattrs, budget);
    }

    /** Draws inodes and handles from {@code budget} too, shared with the process's other servers. */
    public FsConfig withBudget(DescriptorBudget budget) {
        return new FsConfig(sharedDir, cache, maxInodes, maxHandles, maxWrite, xattrs, budget);
    }

    public FsConfig withXattrs(boolean xattrs) {
        return new FsConfig(sharedDir, cache, maxInodes, maxHandles, maxWrite, xattrs, budget);
    }
}
