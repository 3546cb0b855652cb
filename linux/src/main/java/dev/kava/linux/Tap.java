package dev.kava.linux;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A tap network device, {@code /dev/net/tun} with {@code IFF_TAP}: Ethernet frames in and out of
 * one network namespace. What a virtio-net device is backed by.
 *
 * <p>Opened with {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR}: every frame is preceded by a
 * {@code virtio_net_hdr} of {@link #setVnetHeaderSize the configured size} (12 bytes, the virtio
 * 1.x header with {@code num_buffers}, is what a virtio-net device wants), so checksum and
 * segmentation offloads pass between the guest and the host kernel unchanged. The host kernel
 * validates the header of every frame written ({@code virtio_net_hdr_to_skb}): a hostile header
 * makes {@link #writev} fail with EINVAL, it does not reach the stack.
 *
 * <p>The descriptor is non-blocking: {@link #readv} returns -1 when no frame is waiting, and is
 * meant to be called when epoll reports it readable.
 */
public final class Tap implements AutoCloseable {
    /** {@code ifr_flags} of {@code TUNSETIFF}. */
    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_VNET_HDR = 0x4000;
    /** {@code TUNSETIFF}: {@code _IOW('T', 202, int)}, argument a {@code struct ifreq *}. */
    public static final long TUNSETIFF = Ioctls.iow('T', 202, 4);
    /** {@code TUNSETOFFLOAD}: {@code _IOW('T', 208, unsigned int)}, argument the flags themselves. */
    public static final long TUNSETOFFLOAD = Ioctls.iow('T', 208, 4);
    /** {@code TUNGETIFF}: {@code _IOR('T', 210, unsigned int)}, argument a {@code struct ifreq *}. */
    public static final long TUNGETIFF = Ioctls.ior('T', 210, 4);
    /** {@code TUNSETVNETHDRSZ}: {@code _IOW('T', 216, int)}, argument an {@code int *}. */
    public static final long TUNSETVNETHDRSZ = Ioctls.iow('T', 216, 4);
    /** {@code TUNSETOFFLOAD} flags: what the host may hand us unfinished. */
    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;
    public static final int TUN_F_TSO_ECN = 0x08;
    public static final int TUN_F_UFO = 0x10;
    /** Interface names are at most 15 bytes plus NUL. */
    public static final int IFNAMSIZ = 16;

    /** {@code struct ifreq} as far as TUNSETIFF uses it: the name, then the flags in the union. */
    static final StructLayout IFREQ = structLayout(
            sequenceLayout(IFNAMSIZ, JAVA_BYTE).withName("ifr_name"),
            JAVA_SHORT.withName("ifr_flags"),
            paddingLayout(22)
    ).withName("struct ifreq");

    /** {@code ssize_t readv(int fd, const struct iovec *iov, int iovcnt)} */
    private static final Native.Lazy READV = Native.lazyErrnoCall("readv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code ssize_t writev(int fd, const struct iovec *iov, int iovcnt)} */
    private static final Native.Lazy WRITEV = Native.lazyErrnoCall("writev",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));

    private final Fd fd;
    private final String name;

    private Tap(Fd fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /**
     * Creates (or attaches to) tap {@code name} in the calling thread's network namespace with
     * {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR}, non-blocking and close-on-exec. An empty name lets
     * the kernel choose one ({@link #name()} tells). Needs CAP_NET_ADMIN.
     */
    public static Tap open(String name) {
        Objects.requireNonNull(name, "name");
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= IFNAMSIZ || name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("bad interface name '" + name + "': at most " + (IFNAMSIZ - 1) + " bytes");
        }
        Fd fd = Fd.open("/dev/net/tun", OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = arena.allocate(IFREQ);
            MemorySegment.copy(bytes, 0, ifr, JAVA_BYTE, 0, bytes.length);
            ifr.set(JAVA_SHORT, Structs.offset(IFREQ, "ifr_flags"), (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR));
            int raw = fd.acquire("TUNSETIFF");
            try {
                SystemCalls.ioctl("ioctl(TUNSETIFF, " + name + ")", raw, TUNSETIFF, ifr);
            } finally {
                fd.release();
            }
            return new Tap(fd, ifr.getString(0));
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * {@link #open} inside the network namespace {@code netns} (a file such as
     * {@code /run/netns/NAME} or {@code /proc/PID/ns/net}). The tap stays in that namespace for
     * its whole life whoever uses it later. The namespace is entered by a short-lived platform
     * thread of its own ({@code setns(2)} changes only the calling thread), so no thread of the
     * caller changes namespace.
     */
    public static Tap openIn(Path netns, String name) {
        Objects.requireNonNull(netns, "netns");
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("tap-setns").start(() -> {
            try (Fd ns = Fd.open(netns.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0)) {
                Namespaces.enter(ns, Namespaces.CLONE_NEWNET);
                result.set(open(name));
            } catch (RuntimeException e) {
                result.set(e);
            }
        });
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LinuxException("interrupted while opening tap " + name + " in " + netns, e);
        }
        if (result.get() instanceof Tap tap) {
            return tap;
        }
        throw (RuntimeException) result.get();
    }

    /** The interface name the kernel gave the tap. */
    public String name() {
        return name;
    }

    /** The tap's descriptor (watch it with epoll); owned by this object. */
    public Fd fd() {
        return fd;
    }

    /** The size of the header before each frame, {@code TUNSETVNETHDRSZ} (10, 12 or more). */
    public void setVnetHeaderSize(int bytes) {
        int raw = fd.acquire("TUNSETVNETHDRSZ");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment size = arena.allocate(JAVA_INT);
            size.set(JAVA_INT, 0, bytes);
            SystemCalls.ioctl("ioctl(" + name + ", TUNSETVNETHDRSZ, " + bytes + ")", raw, TUNSETVNETHDRSZ, size);
        } finally {
            fd.release();
        }
    }

    /**
     * Which offloads the host may leave to us, {@code TUNSETOFFLOAD} ({@code TUN_F_*}): the frames
     * the tap reads may then carry partial checksums or be larger than the MTU, as the receiver
     * (the guest) said it can take.
     */
    public void setOffload(int flags) {
        int raw = fd.acquire("TUNSETOFFLOAD");
        try {
            SystemCalls.ioctl(raw, TUNSETOFFLOAD, Integer.toUnsignedLong(flags));
        } finally {
            fd.release();
        }
    }

    /**
     * Reads one frame (with its header) into {@code dst}, in order, {@code readv(2)}; returns its
     * length, or -1 when no frame is waiting (EAGAIN). A frame longer than {@code dst} is cut.
     */
    public long readv(List<MemorySegment> dst) {
        return vector(dst, false);
    }

    /**
     * Writes one frame (header first) gathered from {@code src}, {@code writev(2)}; returns the
     * bytes taken, or -1 when the tap cannot take it now (EAGAIN). A frame the kernel refuses (a
     * bad header) throws {@link ErrnoException}.
     */
    public long writev(List<MemorySegment> src) {
        return vector(src, true);
    }

    private long vector(List<MemorySegment> segments, boolean write) {
        if (segments.isEmpty() || segments.size() > FileIo.IOV_MAX) {
            throw new IllegalArgumentException("1.." + FileIo.IOV_MAX + " segments, not " + segments.size());
        }
        int raw = fd.acquire(write ? "writev" : "readv");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment iov = arena.allocate(Structs.IOVEC, segments.size());
            long stride = Structs.IOVEC.byteSize();
            long base = Structs.offset(Structs.IOVEC, "iov_base");
            long len = Structs.offset(Structs.IOVEC, "iov_len");
            for (int i = 0; i < segments.size(); i++) {
                MemorySegment s = segments.get(i);
                if (!s.isNative()) {
                    throw new IllegalArgumentException("readv/writev need native segments");
                }
                if (!write && s.isReadOnly()) {
                    throw new IllegalArgumentException("cannot read into a read-only segment");
                }
                iov.set(ADDRESS, i * stride + base, s);
                iov.set(JAVA_LONG, i * stride + len, s.byteSize());
            }
            int count = segments.size();
            while (true) {
                long r = write
                        ? (long) WRITEV.handle().invokeExact(st, raw, iov, count)
                        : (long) READV.handle().invokeExact(st, raw, iov, count);
                if (r >= 0) {
                    return r;
                }
                int errno = Native.errno(st);
                if (errno == Errno.EAGAIN) {
                    return -1;
                }
                if (errno != Errno.EINTR) {
                    throw new ErrnoException((write ? "writev(" : "readv(") + name + ")", errno);
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            fd.release();
        }
    }

    /** Closes the descriptor; a tap that is not persistent disappears with it. Idempotent. */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Tap[" + name + ", " + fd + "]";
    }
}
