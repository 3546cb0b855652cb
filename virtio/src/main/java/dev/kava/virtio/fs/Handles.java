package dev.kava.virtio.fs;

import dev.kava.linux.Errno;
import dev.kava.linux.Fd;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Open files and directories: fh → a real descriptor (not O_PATH), reopened from an inode. Handles
 * are numbered from 1 and never reused; an unknown fh, or a file fh used as a directory one (or the
 * reverse), answers EBADF. At most {@code max} are open; one more is EMFILE.
 */
final class Handles {
    /** One open file or directory. A directory's {@code lock} serialises seek + getdents. */
    static final class Handle {
        final long fh;
        final Inodes.Inode inode;
        final Fd fd;
        final boolean directory;
        final ReentrantLock lock = new ReentrantLock();

        Handle(long fh, Inodes.Inode inode, Fd fd, boolean directory) {
            this.fh = fh;
            this.inode = inode;
            this.fd = fd;
            this.directory = directory;
        }
    }

    private final int max;
    private final DescriptorBudget budget;
    private final Map<Long, Handle> open = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);
    private final AtomicInteger count = new AtomicInteger();

    Handles(int max, DescriptorBudget budget) {
        this.max = max;
        this.budget = budget;
    }

    /** Fails with EMFILE when no handle is free (checked before opening anything). */
    void checkRoom() {
        if (count.get() >= max || budget.left() <= 0) {
            throw new FuseError(Errno.EMFILE);
        }
    }

    /** Registers an open descriptor, taking ownership of it (closed at once if there is no room). */
    Handle add(Inodes.Inode inode, Fd fd, boolean directory) {
        if (count.incrementAndGet() > max || !budget.tryTake()) {
            count.decrementAndGet();
            fd.close();
            throw new FuseError(Errno.EMFILE);
        }
        Handle h = new Handle(nextFh.getAndIncrement(), inode, fd, directory);
        open.put(h.fh, h);
        return h;
    }

    /** The open handle {@code fh} of the given kind; EBADF otherwise. */
    Handle get(long fh, boolean directory) {
        Handle h = open.get(fh);
        if (h == null || h.directory != directory) {
            throw new FuseError(Errno.EBADF);
        }
        return h;
    }

    /** Closes {@code fh} (RELEASE, RELEASEDIR); EBADF if not open or of the other kind. */
    void release(long fh, boolean directory) {
        Handle h = open.get(fh);
        if (h == null || h.directory != directory || !open.remove(fh, h)) {
            throw new FuseError(Errno.EBADF);
        }
        count.decrementAndGet();
        budget.give();
        h.fd.close();
    }

    /** Closes everything (INIT, DESTROY, close). */
    void clear() {
        List<Handle> all = new ArrayList<>(open.values());
        for (Handle h : all) {
            if (open.remove(h.fh, h)) {
                count.decrementAndGet();
                budget.give();
                h.fd.close();
            }
        }
    }

    int size() {
        return count.get();
    }
}
