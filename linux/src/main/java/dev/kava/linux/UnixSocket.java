package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An AF_UNIX stream socket, {@code unix(7)}, that can pass file descriptors (SCM_RIGHTS), which
 * {@code java.nio} cannot. Blocking calls ({@link #accept()}, {@link #receive}) hold their thread:
 * use platform threads. {@link #close()} while another thread is blocked in one of them shuts the
 * socket down first, so that call returns (EOF or an error) instead of blocking on.
 */
public final class UnixSocket implements AutoCloseable {
    /** Most descriptors Linux accepts in one message ({@code SCM_MAX_FD}). */
    public static final int MAX_FDS = 253;
    /** Largest single transfer of one call; larger requests transfer a prefix. */
    private static final int CHUNK = 256 * 1024;
    private static final long CMSG_HEADER = Structs.CMSGHDR.byteSize();

    /** What {@link #receive} got: the byte count (-1 at end of stream) and any passed descriptors. */
    public record Received(int bytes, List<Fd> fds) {}

    private final Fd fd;

    private UnixSocket(Fd fd) {
        this.fd = fd;
    }

    /** Wraps a descriptor that already is a connected or listening AF_UNIX stream socket. */
    public static UnixSocket adopt(Fd fd) {
        return new UnixSocket(Objects.requireNonNull(fd));
    }

    /**
     * A socket bound to {@code path} and listening, {@code bind(2)} and {@code listen(2)}. The path
     * must not exist yet (EADDRINUSE) and must be under 108 bytes.
     */
    public static UnixSocket listen(Path path, int backlog) {
        Fd fd = Sockets.socket(Sockets.AF_UNIX, "AF_UNIX");
        try (Arena arena = Arena.ofConfined()) {
            Sockets.bindAndListen(fd, sockaddr(arena, path), backlog, path.toString());
            return new UnixSocket(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** A socket connected to the listener at {@code path}, {@code connect(2)}. */
    public static UnixSocket connect(Path path) {
        Fd fd = Sockets.socket(Sockets.AF_UNIX, "AF_UNIX");
        try (Arena arena = Arena.ofConfined()) {
            Sockets.connect(fd, sockaddr(arena, path), path.toString());
            return new UnixSocket(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** Two connected sockets, {@code socketpair(2)}, both close-on-exec. */
    public static UnixSocket[] pair() {
        Fd[] fds = Sockets.socketpair(Sockets.AF_UNIX);
        return new UnixSocket[] {new UnixSocket(fds[0]), new UnixSocket(fds[1])};
    }

    /** The next connection on a listening socket, {@code accept4(2)} with SOCK_CLOEXEC. Blocks. */
    public UnixSocket accept() {
        return new UnixSocket(Sockets.accept(fd));
    }

    /** The socket's descriptor, owned by this object. */
    public Fd fd() {
        return fd;
    }

    /**
     * Sends up to {@code len} bytes and, when {@code fds} are given, those descriptors with them
     * ({@code sendmsg(2)}, SCM_RIGHTS, MSG_NOSIGNAL); retries EINTR. Returns the bytes sent, which
     * may be fewer than {@code len}; the descriptors travel with the first byte. Passing
     * descriptors needs {@code len >= 1}. The caller still owns (and should close) its {@code fds}.
     */
    public int send(byte[] b, int off, int len, Fd... fds) {
        Objects.checkFromIndexSize(off, len, b.length);
        if (fds.length > MAX_FDS) {
            throw new IllegalArgumentException("at most " + MAX_FDS + " descriptors per message, not " + fds.length);
        }
        if (fds.length > 0 && len == 0) {
            throw new IllegalArgumentException("descriptors need at least one byte of data to travel with");
        }
        int n = Math.min(len, CHUNK);
        int acquired = 0;
        int raw = fd.acquire("sendmsg");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment data = arena.allocate(Math.max(n, 1));
            MemorySegment.copy(b, off, data, JAVA_BYTE, 0, n);
            MemorySegment control = MemorySegment.NULL;
            if (fds.length > 0) {
                control = arena.allocate(cmsgSpace(4L * fds.length), 8);
                control.set(JAVA_LONG, Structs.offset(Structs.CMSGHDR, "cmsg_len"), CMSG_HEADER + 4L * fds.length);
                control.set(JAVA_INT, Structs.offset(Structs.CMSGHDR, "cmsg_level"), Sockets.SOL_SOCKET);
                control.set(JAVA_INT, Structs.offset(Structs.CMSGHDR, "cmsg_type"), Sockets.SCM_RIGHTS);
                for (Fd passed : fds) {
                    // hold each passed descriptor open until the kernel has taken its reference
                    control.set(JAVA_INT, CMSG_HEADER + 4L * acquired, passed.acquire("sendmsg"));
                    acquired++;
                }
            }
            MemorySegment msg = msghdr(arena, data, n, control);
            while (true) {
                long r = (long) Sockets.SENDMSG.handle().invokeExact(st, raw, msg, Sockets.MSG_NOSIGNAL);
                if (r >= 0) {
                    return (int) r;
                }
                int errno = Native.errno(st);
                if (errno != Errno.EINTR) {
                    throw new ErrnoException("sendmsg(fd " + raw + ")", errno);
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            for (int i = 0; i < acquired; i++) {
                fds[i].release();
            }
            fd.release();
        }
    }

    /**
     * Receives up to {@code len} bytes and up to {@code maxFds} passed descriptors
     * ({@code recvmsg(2)} with MSG_CMSG_CLOEXEC, so received descriptors are close-on-exec);
     * retries EINTR. {@code bytes} is -1 at end of stream. Descriptors sent beyond
     * {@code maxFds} are closed by the kernel and lost (MSG_CTRUNC). Blocks. The caller owns the
     * returned descriptors.
     */
    public Received receive(byte[] b, int off, int len, int maxFds) {
        Objects.checkFromIndexSize(off, len, b.length);
        if (maxFds < 0 || maxFds > MAX_FDS) {
            throw new IllegalArgumentException("maxFds must be 0.." + MAX_FDS + ": " + maxFds);
        }
        int n = Math.min(len, CHUNK);
        int raw = fd.acquire("recvmsg");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment data = arena.allocate(Math.max(n, 1));
            MemorySegment control = maxFds == 0 ? MemorySegment.NULL : arena.allocate(cmsgSpace(4L * maxFds), 8);
            MemorySegment msg = msghdr(arena, data, n, control);
            long r;
            while (true) {
                r = (long) Sockets.RECVMSG.handle().invokeExact(st, raw, msg, Sockets.MSG_CMSG_CLOEXEC);
                if (r >= 0) {
                    break;
                }
                int errno = Native.errno(st);
                if (errno != Errno.EINTR) {
                    throw new ErrnoException("recvmsg(fd " + raw + ")", errno);
                }
            }
            List<Fd> received = maxFds == 0 ? List.of()
                    : passedFds(control, msg.get(JAVA_LONG, Structs.offset(Structs.MSGHDR, "msg_controllen")));
            if (r > 0) {
                MemorySegment.copy(data, JAVA_BYTE, 0, b, off, (int) r);
            }
            return new Received(r == 0 && len > 0 ? -1 : (int) r, received);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            fd.release();
        }
    }

    /** The SCM_RIGHTS descriptors in a control buffer the kernel filled with {@code controllen} bytes. */
    static List<Fd> passedFds(MemorySegment control, long controllen) {
        List<Fd> fds = new ArrayList<>();
        long limit = Math.min(controllen, control.byteSize());
        long at = 0;
        while (at + CMSG_HEADER <= limit) {
            long cmsgLen = control.get(JAVA_LONG, at + Structs.offset(Structs.CMSGHDR, "cmsg_len"));
            if (cmsgLen < CMSG_HEADER || at + cmsgLen > limit) {
                break;
            }
            int level = control.get(JAVA_INT, at + Structs.offset(Structs.CMSGHDR, "cmsg_level"));
            int type = control.get(JAVA_INT, at + Structs.offset(Structs.CMSGHDR, "cmsg_type"));
            if (level == Sockets.SOL_SOCKET && type == Sockets.SCM_RIGHTS) {
                for (long i = 0; i < (cmsgLen - CMSG_HEADER) / 4; i++) {
                    fds.add(Fd.adopt(control.get(JAVA_INT, at + CMSG_HEADER + 4 * i)));
                }
            }
            at += align8(cmsgLen);
        }
        return fds;
    }

    /** {@code CMSG_SPACE(len)}: header plus data, rounded up to 8 bytes. */
    static long cmsgSpace(long dataLen) {
        return CMSG_HEADER + align8(dataLen);
    }

    private static long align8(long n) {
        return (n + 7) & ~7L;
    }

    private static MemorySegment msghdr(Arena arena, MemorySegment data, int len, MemorySegment control) {
        MemorySegment iov = arena.allocate(Structs.IOVEC);
        iov.set(ADDRESS, Structs.offset(Structs.IOVEC, "iov_base"), data);
        iov.set(JAVA_LONG, Structs.offset(Structs.IOVEC, "iov_len"), len);
        MemorySegment msg = arena.allocate(Structs.MSGHDR);
        msg.set(ADDRESS, Structs.offset(Structs.MSGHDR, "msg_name"), MemorySegment.NULL);
        msg.set(JAVA_INT, Structs.offset(Structs.MSGHDR, "msg_namelen"), 0);
        msg.set(ADDRESS, Structs.offset(Structs.MSGHDR, "msg_iov"), iov);
        msg.set(JAVA_LONG, Structs.offset(Structs.MSGHDR, "msg_iovlen"), 1L);
        msg.set(ADDRESS, Structs.offset(Structs.MSGHDR, "msg_control"), control);
        msg.set(JAVA_LONG, Structs.offset(Structs.MSGHDR, "msg_controllen"), control.byteSize());
        return msg;
    }

    /** {@code struct sockaddr_un} for a filesystem path. */
    private static MemorySegment sockaddr(Arena arena, Path path) {
        byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        long pathOffset = Structs.offset(Structs.SOCKADDR_UN, "sun_path");
        long max = Structs.SOCKADDR_UN.byteSize() - pathOffset - 1;
        if (bytes.length == 0 || bytes.length > max) {
            throw new LinuxException("unix socket path must be 1.." + max + " bytes: " + path);
        }
        MemorySegment addr = arena.allocate(Structs.SOCKADDR_UN);
        addr.set(JAVA_SHORT, Structs.offset(Structs.SOCKADDR_UN, "sun_family"), (short) Sockets.AF_UNIX);
        MemorySegment.copy(bytes, 0, addr, JAVA_BYTE, pathOffset, bytes.length);
        // the address length covers the path and its NUL, as SUN_LEN does
        return addr.asSlice(0, pathOffset + bytes.length + 1);
    }

    /** Shuts down reading, writing or both, {@code shutdown(2)} (SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2). */
    public void shutdown(int how) {
        int raw = fd.acquire("shutdown");
        try {
            Sockets.shutdown(raw, how);
        } finally {
            fd.release();
        }
    }

    /** Closes the socket; idempotent. Threads blocked in calls on it are woken by a shutdown first. */
    @Override
    public void close() {
        Sockets.closeWakingUsers(fd);
    }

    @Override
    public String toString() {
        return "UnixSocket[" + fd + "]";
    }
}
