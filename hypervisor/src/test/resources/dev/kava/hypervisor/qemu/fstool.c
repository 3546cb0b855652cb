/*
 * fstool: the file system calls busybox has no applet for, for the virtio-fs guest tests.
 * Compiled statically by the test (gcc -static) and put into the test guest's root image.
 *
 *   fstool seek FILE                 prints the data segments found with SEEK_DATA/SEEK_HOLE: "0-4096 1048576-1052672"
 *   fstool sparse FILE               writes 4 KiB at 0 and at 1 MiB, then sets the size to 2 MiB
 *   fstool mmapw FILE OFFSET TEXT    writes TEXT through a MAP_SHARED mapping, msync, munmap
 *   fstool mmapr FILE OFFSET LEN     prints LEN bytes read through a MAP_SHARED mapping
 *   fstool setx FILE NAME VALUE      setxattr
 *   fstool getx FILE NAME            prints the value (exit 1 and the errno name on failure)
 *   fstool listx FILE                prints the names, one a line
 *   fstool rmx FILE NAME             removexattr
 *   fstool lchown FILE UID GID       fchownat(AT_SYMLINK_NOFOLLOW)
 *   fstool lutimes FILE SEC          utimensat(AT_SYMLINK_NOFOLLOW) of atime and mtime
 *   fstool linkat FILE NEW           linkat(AT_SYMLINK_FOLLOW): a hard link to what FILE resolves to
 *   fstool rename FROM TO            renameat2(0)
 *   fstool exchange A B              renameat2(RENAME_EXCHANGE)
 *   fstool mknod FILE c|b MAJ MIN    mknod of a device node
 *   fstool swaploop A B SECONDS      renameat2(RENAME_EXCHANGE) of A and B over and over; prints the swaps made
 *   fstool hammer MARK SECONDS NAME...
 *                                    over and over, on NAME/canary, NAME/new and NAME: open and read (counting
 *                                    reads that return MARK), append, chmod, chown, utimensat, truncate,
 *                                    setxattr, link, create and unlink; prints "ROUNDS LEAKS"
 * Exit status 0 on success; on failure the call and strerror on stderr, status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* Every call a guest program could make on a name someone is swapping; returns 1 when MARK was read. */
static int hammer_once(const char *name, const char *mark) {
    char path[4096], other[4096], buf[4097];
    int leaked = 0;
    const char *targets[] = {"canary", "", NULL};
    for (int i = 0; targets[i]; i++) {
        snprintf(path, sizeof path, targets[i][0] ? "%s/%s" : "%s%s", name, targets[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, buf, sizeof buf - 1);
            if (n > 0) {
                buf[n] = 0;
                if (strstr(buf, mark)) leaked = 1;
            }
            close(fd);
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, "pwned\n", 6) < 0) { /* refused: fine */ }
            close(fd);
        }
        chmod(path, 0777);
        chown(path, 4242, 4242);
        struct timespec t[2] = {{1, 0}, {1, 0}};
        utimensat(AT_FDCWD, path, t, 0);
        truncate(path, 0);
        setxattr(path, "user.pwned", "1", 1, 0);
        snprintf(other, sizeof other, "%s.hard", name);
        if (linkat(AT_FDCWD, path, AT_FDCWD, other, AT_SYMLINK_FOLLOW) == 0) unlink(other);
    }
    snprintf(path, sizeof path, "%s/new", name);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    return leaked;
}

static int fail(const char *what) {
    fprintf(stderr, "%s: %s (%s)\n", what, strerror(errno), strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    return 1;
}

static int seek_segments(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fail("open");
    off_t end = lseek(fd, 0, SEEK_END);
    off_t at = 0;
    int first = 1;
    while (at < end) {
        off_t data = lseek(fd, at, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) break;
            return fail("lseek SEEK_DATA");
        }
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0) return fail("lseek SEEK_HOLE");
        printf("%s%lld-%lld", first ? "" : " ", (long long) data, (long long) hole);
        first = 0;
        at = hole;
    }
    printf("%ssize=%lld\n", first ? "" : " ", (long long) end);
    return 0;
}

static int sparse(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return fail("open");
    char block[4096];
    memset(block, 'D', sizeof block);
    if (pwrite(fd, block, sizeof block, 0) != sizeof block) return fail("pwrite 0");
    if (pwrite(fd, block, sizeof block, 1 << 20) != sizeof block) return fail("pwrite 1M");
    if (ftruncate(fd, 2 << 20) != 0) return fail("ftruncate");
    if (close(fd) != 0) return fail("close");
    return 0;
}

static int map_file(const char *path, long offset, size_t len, int write, char **out, size_t *mapped, int *fdp) {
    int fd = open(path, write ? O_RDWR : O_RDONLY);
    if (fd < 0) return fail("open");
    size_t size = (size_t) offset + len;
    char *p = mmap(NULL, size, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail("mmap");
    *out = p;
    *mapped = size;
    *fdp = fd;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fstool CMD FILE ...\n");
        return 2;
    }
    const char *cmd = argv[1], *file = argv[2];
    if (!strcmp(cmd, "seek")) return seek_segments(file);
    if (!strcmp(cmd, "sparse")) return sparse(file);
    if (!strcmp(cmd, "mmapw") && argc == 5) {
        char *p = NULL; size_t n = 0; int fd = -1;
        size_t len = strlen(argv[4]);
        if (map_file(file, atol(argv[3]), len, 1, &p, &n, &fd)) return 1;
        memcpy(p + atol(argv[3]), argv[4], len);
        if (msync(p, n, MS_SYNC) != 0) return fail("msync");
        if (munmap(p, n) != 0) return fail("munmap");
        return close(fd) ? fail("close") : 0;
    }
    if (!strcmp(cmd, "mmapr") && argc == 5) {
        char *p = NULL; size_t n = 0; int fd = -1;
        size_t len = (size_t) atol(argv[4]);
        if (map_file(file, atol(argv[3]), len, 0, &p, &n, &fd)) return 1;
        fwrite(p + atol(argv[3]), 1, len, stdout);
        printf("\n");
        munmap(p, n);
        close(fd);
        return 0;
    }
    if (!strcmp(cmd, "setx") && argc == 5) {
        return setxattr(file, argv[3], argv[4], strlen(argv[4]), 0) ? fail("setxattr") : 0;
    }
    if (!strcmp(cmd, "getx") && argc == 4) {
        char v[65536];
        ssize_t n = getxattr(file, argv[3], v, sizeof v);
        if (n < 0) return fail("getxattr");
        fwrite(v, 1, (size_t) n, stdout);
        printf("\n");
        return 0;
    }
    if (!strcmp(cmd, "listx")) {
        char names[65536];
        ssize_t n = listxattr(file, names, sizeof names);
        if (n < 0) return fail("listxattr");
        for (ssize_t i = 0; i < n; i += (ssize_t) strlen(names + i) + 1) printf("%s\n", names + i);
        return 0;
    }
    if (!strcmp(cmd, "rmx") && argc == 4) return removexattr(file, argv[3]) ? fail("removexattr") : 0;
    if (!strcmp(cmd, "lchown") && argc == 5) {
        return fchownat(AT_FDCWD, file, atoi(argv[3]), atoi(argv[4]), AT_SYMLINK_NOFOLLOW) ? fail("fchownat") : 0;
    }
    if (!strcmp(cmd, "lutimes") && argc == 4) {
        struct timespec t[2] = {{atol(argv[3]), 0}, {atol(argv[3]), 0}};
        return utimensat(AT_FDCWD, file, t, AT_SYMLINK_NOFOLLOW) ? fail("utimensat") : 0;
    }
    if (!strcmp(cmd, "linkat") && argc == 4) {
        return linkat(AT_FDCWD, file, AT_FDCWD, argv[3], AT_SYMLINK_FOLLOW) ? fail("linkat") : 0;
    }
    if (!strcmp(cmd, "rename") && argc == 4) return renameat2(AT_FDCWD, file, AT_FDCWD, argv[3], 0) ? fail("renameat2") : 0;
    if (!strcmp(cmd, "exchange") && argc == 4) {
        return renameat2(AT_FDCWD, file, AT_FDCWD, argv[3], RENAME_EXCHANGE) ? fail("renameat2 EXCHANGE") : 0;
    }
    if (!strcmp(cmd, "mknod") && argc == 6) {
        mode_t type = argv[3][0] == 'b' ? S_IFBLK : S_IFCHR;
        return mknod(file, type | 0666, makedev(atoi(argv[4]), atoi(argv[5]))) ? fail("mknod") : 0;
    }
    if (!strcmp(cmd, "swaploop") && argc == 5) {
        time_t end = time(NULL) + atoi(argv[4]);
        long swaps = 0;
        while (time(NULL) < end) {
            if (renameat2(AT_FDCWD, file, AT_FDCWD, argv[3], RENAME_EXCHANGE) == 0) swaps++;
        }
        printf("%ld\n", swaps);
        return 0;
    }
    if (!strcmp(cmd, "hammer") && argc >= 5) {
        time_t end = time(NULL) + atoi(argv[3]);
        long rounds = 0, leaks = 0;
        while (time(NULL) < end) {
            for (int i = 4; i < argc; i++) leaks += hammer_once(argv[i], file);
            rounds++;
        }
        printf("%ld %ld\n", rounds, leaks);
        return 0;
    }
    fprintf(stderr, "fstool: unknown command or arguments: %s\n", cmd);
    return 2;
}
