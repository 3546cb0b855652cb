/**
 * virtio-fs: a FUSE file server that passes one host directory through to the guest (Kata's
 * "inline virtio-fs"). {@link dev.kava.virtio.fs.FuseServer} is the entry point; it sees only
 * lists of {@link java.lang.foreign.MemorySegment}s (the readable and writable buffers of one
 * descriptor chain), never a virtqueue, so the built-in VMM and the vhost-user backend for QEMU
 * drive it the same way. {@link dev.kava.virtio.fs.FsConfig} and
 * {@link dev.kava.virtio.fs.CacheMode} configure it.
 *
 * <h2>Threat model</h2>
 * The guest is hostile and owns everything beneath the shared directory; it must reach nothing
 * else of the host, and must not be able to crash the server or make it grow without bound.
 * <ul>
 * <li><b>Parsing.</b> Every request field is copied out of guest memory once and bounds-checked
 *     against the buffers really present; lengths the guest writes never size an allocation.</li>
 * <li><b>Names.</b> A name is one component: no '/', not "." or "..", not empty, at most 255
 *     bytes. It is resolved against an inode descriptor the guest already holds, with
 *     {@code openat2(O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)}: even a name that
 *     slipped through could not climb out (the kernel checks), and no symlink is ever followed by
 *     the server, whether absolute, relative, or a {@code /proc} magic link planted in the share.
 *     The guest kernel reads symlinks (READLINK) and resolves them itself, inside the guest.</li>
 * <li><b>Identities.</b> Inodes are O_PATH descriptors keyed by {@code (st_dev, st_ino)}. A rename
 *     race cannot redirect an operation, because operations act on a descriptor, or on a
 *     (parent descriptor, single name) pair, never on a path. Submounts under the share (container
 *     root file systems and volumes) are crossed on purpose: no RESOLVE_NO_XDEV.</li>
 * <li><b>Reopening.</b> OPEN, OPENDIR, and the calls that need a path for an O_PATH descriptor
 *     (chmod, utimensat, truncate, linkat, the xattr calls) use {@code /proc/self/fd/N}: that
 *     magic link jumps to exactly the object our descriptor holds, and stops there even when the
 *     object is a symlink, so the target of a guest-made symlink is never touched. This is the
 *     technique virtiofsd uses; the {@code /proc/self/fd} directory is opened once and checked to
 *     be procfs. Only regular files and directories are ever opened (devices would be host
 *     devices, FIFOs could block); device nodes cannot be created at all (except the 0/0 whiteout
 *     overlayfs uses). LINK joins two of our own descriptors, so it cannot link anything from
 *     outside.</li>
 * <li><b>Resources.</b> At most {@link dev.kava.virtio.fs.FsConfig#maxInodes()} inodes (ENFILE)
 *     and {@link dev.kava.virtio.fs.FsConfig#maxHandles()} open handles (EMFILE), each one host
 *     descriptor; FORGET of unknown nodeids costs a hash lookup and nothing else.</li>
 * <li><b>Credentials.</b> The server runs as root. New files are created by root and then
 *     chowned to the uid/gid of the guest caller from the request header; the guest kernel checks
 *     permissions itself (virtio-fs mounts with default_permissions). Set-user-ID files and
 *     anything else the guest writes are only as dangerous to the host as the host lets them be:
 *     the shared directory must not be reachable by unprivileged host users (or must be mounted
 *     nosuid,nodev).</li>
 * </ul>
 */
package dev.kava.virtio.fs;
