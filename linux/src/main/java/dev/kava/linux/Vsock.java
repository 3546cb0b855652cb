package dev.kava.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * AF_VSOCK stream sockets between a VM and its host, {@code vsock(7)}. {@link #accept} and reads
 * block their thread: use platform threads. A thread blocked in accept is not woken by closing the
 * listener's {@link Fd}.
 */
public final class Vsock {
    /** Any CID: bind to every local address. */
    public static final int VMADDR_CID_ANY = -1;
    /** The local machine (loopback; needs the vsock_loopback transport). */
    public static final int VMADDR_CID_LOCAL = 1;
    /** The host, as seen from a guest. */
    public static final int VMADDR_CID_HOST = 2;
    /** Any port: let the kernel choose. */
    public static final int VMADDR_PORT_ANY = -1;

    private Vsock() {}

    /** A vsock socket bound to {@code cid:port} and listening, {@code bind(2)} and {@code listen(2)}. */
    public static Fd listen(int cid, int port, int backlog) {
        Fd fd = Sockets.socket(Sockets.AF_VSOCK, "AF_VSOCK");
        try (Arena arena = Arena.ofConfined()) {
            Sockets.bindAndListen(fd, sockaddr(arena, cid, port), backlog, "vsock " + describe(cid, port));
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** The next connection on a listener, {@code accept4(2)} SOCK_CLOEXEC; retries EINTR. Blocks. */
    public static Fd accept(Fd listener) {
        return Sockets.accept(listener);
    }

    /** A stream connected to {@code cid:port}, {@code connect(2)}. */
    public static Fd connect(int cid, int port) {
        Fd fd = Sockets.socket(Sockets.AF_VSOCK, "AF_VSOCK");
        try (Arena arena = Arena.ofConfined()) {
            Sockets.connect(fd, sockaddr(arena, cid, port), "vsock " + describe(cid, port));
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * Closes a vsock socket; if another thread is blocked reading or writing on it (connected
     * sockets), shuts it down first so that call returns. Idempotent.
     */
    public static void close(Fd socket) {
        Sockets.closeWakingUsers(socket);
    }

    /** Whether {@code socket(AF_VSOCK, SOCK_STREAM)} works on this machine. */
    public static boolean isAvailable() {
        return Availability.CAUSE == null;
    }

    /** Why vsock is unavailable, or null when it is available. */
    public static String unavailabilityCause() {
        return Availability.CAUSE;
    }

    /** This machine's CID, {@code IOCTL_VM_SOCKETS_GET_LOCAL_CID} on {@code /dev/vsock}. */
    public static int localCid() {
        try (Fd dev = Fd.open("/dev/vsock", OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
             Arena arena = Arena.ofConfined()) {
            MemorySegment cid = arena.allocate(JAVA_INT);
            SystemCalls.ioctl("ioctl(/dev/vsock, IOCTL_VM_SOCKETS_GET_LOCAL_CID)", dev.value(),
                    Ioctls.IOCTL_VM_SOCKETS_GET_LOCAL_CID, cid);
            return cid.get(JAVA_INT, 0);
        }
    }

    private static final class Availability {
        static final String CAUSE = probe();

        private static String probe() {
            try {
                Sockets.socket(Sockets.AF_VSOCK, "AF_VSOCK").close();
                return null;
            } catch (LinuxException e) {
                return e.getMessage();
            }
        }
    }

    /** {@code struct sockaddr_vm}. */
    private static MemorySegment sockaddr(Arena arena, int cid, int port) {
        MemorySegment addr = arena.allocate(Structs.SOCKADDR_VM); // zeroed: svm_reserved1, svm_flags, svm_zero
        addr.set(JAVA_SHORT, Structs.offset(Structs.SOCKADDR_VM, "svm_family"), (short) Sockets.AF_VSOCK);
        addr.set(JAVA_INT, Structs.offset(Structs.SOCKADDR_VM, "svm_port"), port);
        addr.set(JAVA_INT, Structs.offset(Structs.SOCKADDR_VM, "svm_cid"), cid);
        return addr;
    }

    private static String describe(int cid, int port) {
        return Integer.toUnsignedString(cid) + ":" + Integer.toUnsignedString(port);
    }
}
