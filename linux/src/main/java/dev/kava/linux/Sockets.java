package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** The socket calls {@link UnixSocket} and {@link Vsock} share: {@code socket(2)}, {@code bind(2)}, ... */
final class Sockets {
    static final int AF_UNIX = 1;
    static final int AF_VSOCK = 40;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = OpenFlags.O_CLOEXEC;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int SHUT_RD = 0;
    static final int SHUT_WR = 1;
    static final int SHUT_RDWR = 2;

    /** {@code int socket(int domain, int type, int protocol)} */
    private static final Native.Lazy SOCKET = Native.lazyErrnoCall("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    /** {@code int socketpair(int domain, int type, int protocol, int sv[2])} */
    private static final Native.Lazy SOCKETPAIR = Native.lazyErrnoCall("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    /** {@code int bind(int fd, const struct sockaddr *addr, socklen_t len)} */
    private static final Native.Lazy BIND = Native.lazyErrnoCall("bind",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code int listen(int fd, int backlog)} */
    private static final Native.Lazy LISTEN = Native.lazyErrnoCall("listen",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    /** {@code int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)} */
    private static final Native.Lazy ACCEPT4 = Native.lazyErrnoCall("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    /** {@code int connect(int fd, const struct sockaddr *addr, socklen_t len)} */
    private static final Native.Lazy CONNECT = Native.lazyErrnoCall("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code int shutdown(int fd, int how)} */
    private static final Native.Lazy SHUTDOWN = Native.lazyErrnoCall("shutdown",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    /** {@code ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)} */
    static final Native.Lazy SENDMSG = Native.lazyErrnoCall("sendmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code ssize_t recvmsg(int fd, struct msghdr *msg, int flags)} */
    static final Native.Lazy RECVMSG = Native.lazyErrnoCall("recvmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));

    private Sockets() {}

    /** A new close-on-exec stream socket, {@code socket(2)}. */
    static Fd socket(int domain, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            int r = (int) SOCKET.handle().invokeExact(st, domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
            return Fd.adopt(Native.check(r, st, "socket(" + what + ")"));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Two connected close-on-exec stream sockets, {@code socketpair(2)}. */
    static Fd[] socketpair(int domain) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment sv = arena.allocate(JAVA_INT, 2);
            Native.check((int) SOCKETPAIR.handle().invokeExact(st, domain, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), st, "socketpair");
            return new Fd[] {Fd.adopt(sv.getAtIndex(JAVA_INT, 0)), Fd.adopt(sv.getAtIndex(JAVA_INT, 1))};
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code bind(2)} then {@code listen(2)}. */
    static void bindAndListen(Fd fd, MemorySegment addr, int backlog, String what) {
        int raw = fd.acquire("bind");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) BIND.handle().invokeExact(st, raw, addr, (int) addr.byteSize()), st, "bind(" + what + ")");
            Native.check((int) LISTEN.handle().invokeExact(st, raw, backlog), st, "listen(" + what + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            fd.release();
        }
    }

    /** {@code connect(2)}; an EINTR is waited out by retrying until EISCONN. */
    static void connect(Fd fd, MemorySegment addr, String what) {
        int raw = fd.acquire("connect");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            boolean interrupted = false;
            while (true) {
                int r = (int) CONNECT.handle().invokeExact(st, raw, addr, (int) addr.byteSize());
                if (r == 0) {
                    return;
                }
                int errno = Native.errno(st);
                if (errno == Errno.EINTR || (interrupted && (errno == Errno.EALREADY || errno == Errno.EINPROGRESS))) {
                    interrupted = true;
                    continue;
                }
                if (interrupted && errno == Errno.EISCONN) {
                    return;
                }
                throw new ErrnoException("connect(" + what + ")", errno);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            fd.release();
        }
    }

    /** A connection from a listening socket, {@code accept4(2)} SOCK_CLOEXEC; retries EINTR. Blocks. */
    static Fd accept(Fd listener) {
        int raw = listener.acquire("accept");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            while (true) {
                int r = (int) ACCEPT4.handle().invokeExact(st, raw, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC);
                if (r >= 0) {
                    return Fd.adopt(r);
                }
                int errno = Native.errno(st);
                if (errno != Errno.EINTR) {
                    throw new ErrnoException("accept(fd " + raw + ")", errno);
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            listener.release();
        }
    }

    /** {@code shutdown(2)} on a raw descriptor the caller keeps open. */
    static void shutdown(int raw, int how) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) SHUTDOWN.handle().invokeExact(st, raw, how), st, "shutdown(fd " + raw + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Closes a socket; when other threads are inside calls on it, first shuts it down so that their
     * blocking reads and accepts return instead of holding the descriptor open.
     */
    static void closeWakingUsers(Fd fd) {
        try {
            int raw = fd.acquire("close");
            try {
                if (fd.callsInFlight() > 1) {
                    shutdown(raw, SHUT_RDWR);
                }
            } catch (ErrnoException e) {
                // not connected (a listener): nothing to wake that shutdown could reach
            } finally {
                fd.release();
            }
        } catch (ErrnoException alreadyClosed) {
            return;
        }
        fd.close();
    }
}
