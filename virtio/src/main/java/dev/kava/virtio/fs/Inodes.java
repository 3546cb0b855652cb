package dev.kava.virtio.fs;

import dev.kava.linux.Errno;
import dev.kava.linux.Fd;
import dev.kava.linux.FileStat;
import dev.kava.linux.FileSystem;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The inodes the guest knows: nodeid → {@code O_PATH} descriptor, with the kernel's lookup count.
 *
 * <p>An inode is identified on the host by {@code (st_dev, st_ino)}, so two names of one file (hard
 * links, a directory reached twice) share one nodeid. Every reply that hands out a nodeid
 * (LOOKUP, CREATE, MKNOD, MKDIR, SYMLINK, LINK, READDIRPLUS) adds one lookup; FORGET takes them
 * away, and at zero the descriptor is closed and the nodeid is gone for good (nodeids are never
 * reused, so a stale one can only miss). The root is pinned. Unknown nodeids answer EBADF, as in
 * virtiofsd. Holding the descriptor also keeps {@code (st_dev, st_ino)} from being reused by the
 * host while the guest knows it. Every inode but the root also takes one descriptor of the
 * {@link DescriptorBudget} (ENFILE when it is spent).
 *
 * <p>Thread-safe: one lock around the maps; system calls happen outside it (only closes inside).
 */
final class Inodes {
    /** One known inode. {@code fd} is an {@code O_PATH | O_NOFOLLOW} descriptor; {@code type} is {@code st_mode & S_IFMT}. */
    static final class Inode {
        final long nodeid;
        final Fd fd;
        final long dev;
        final long ino;
        final int type;
        /** Guarded by the table's lock. */
        private long lookups;

        Inode(long nodeid, Fd fd, long dev, long ino, int type) {
            this.nodeid = nodeid;
            this.fd = fd;
            this.dev = dev;
            this.ino = ino;
            this.type = type;
        }

        boolean isDirectory() {
            return type == FileSystem.S_IFDIR;
        }
    }

    private record Key(long dev, long ino) {}

    private final int max;
    private final DescriptorBudget budget;
    private final Map<Long, Inode> byId = new HashMap<>();
    private final Map<Key, Inode> byKey = new HashMap<>();
    private long nextId = FuseKernel.FUSE_ROOT_ID + 1;
    final Inode root;

    /** Takes ownership of {@code rootFd}, the shared directory. */
    Inodes(Fd rootFd, FileStat rootStat, int max, DescriptorBudget budget) {
        this.max = max;
        this.budget = budget;
        this.root = new Inode(FuseKernel.FUSE_ROOT_ID, rootFd, rootStat.dev(), rootStat.ino(), rootStat.type());
        byId.put(root.nodeid, root);
        byKey.put(new Key(root.dev, root.ino), root);
    }

    /** The inode of {@code nodeid}; EBADF if the guest was never given it or forgot it. */
    synchronized Inode get(long nodeid) {
        Inode i = byId.get(nodeid);
        if (i == null) {
            throw new FuseError(Errno.EBADF);
        }
        return i;
    }

    /**
     * Records one lookup of the file {@code fd} refers to, taking ownership of {@code fd}: an inode
     * already known gets its count raised and {@code fd} is closed; a new one needs room (ENFILE).
     */
    Inode add(Fd fd, FileStat st) {
        Fd toClose = fd;
        try {
            synchronized (this) {
                Key key = new Key(st.dev(), st.ino());
                Inode i = byKey.get(key);
                if (i == null) {
                    if (byId.size() >= max || !budget.tryTake()) {
                        throw new FuseError(Errno.ENFILE);
                    }
                    i = new Inode(nextId++, fd, st.dev(), st.ino(), st.type());
                    byId.put(i.nodeid, i);
                    byKey.put(key, i);
                    toClose = null;
                }
                i.lookups++;
                return i;
            }
        } finally {
            if (toClose != null) {
                toClose.close();
            }
        }
    }

    /** Whether a new inode would be refused right now (checked before creating files). */
    synchronized boolean isFull() {
        return byId.size() >= max || budget.left() <= 0;
    }

    /** Drops {@code count} lookups of {@code nodeid}; unknown nodeids and the root are ignored. */
    void forget(long nodeid, long count) {
        Inode gone = null;
        synchronized (this) {
            Inode i = byId.get(nodeid);
            if (i == null || i == root) {
                return;
            }
            // unsigned: a count above the lookups (or "negative") forgets them all
            if (Long.compareUnsigned(count, i.lookups) >= 0) {
                byId.remove(nodeid);
                byKey.remove(new Key(i.dev, i.ino));
                budget.give();
                gone = i;
            } else {
                i.lookups -= count;
            }
        }
        if (gone != null) {
            gone.fd.close();
        }
    }

    /** Forgets every inode but the root (INIT, DESTROY). */
    void clear() {
        List<Inode> all;
        synchronized (this) {
            all = new ArrayList<>(byId.values());
            all.remove(root);
            all.forEach(i -> budget.give());
            byId.clear();
            byKey.clear();
            byId.put(root.nodeid, root);
            byKey.put(new Key(root.dev, root.ino), root);
        }
        all.forEach(i -> i.fd.close());
    }

    /** Inodes known now, the root included. */
    synchronized int size() {
        return byId.size();
    }
}
