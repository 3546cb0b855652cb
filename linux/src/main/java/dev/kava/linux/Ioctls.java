package dev.kava.linux;

/**
 * ioctl request numbers, in one place ({@code ioctl(2)}, {@code ioctl_tty(2)}), and the
 * {@code _IOC} encoding for modules that define their own (KVM, vhost). Make the calls with
 * {@link SystemCalls#ioctl(int, long, java.lang.foreign.MemorySegment)}.
 */
public final class Ioctls {
    /** {@code struct winsize *}: read a terminal's window size. */
    public static final long TIOCGWINSZ = 0x5413;
    /** {@code const struct winsize *}: set a terminal's window size (the foreground group gets SIGWINCH). */
    public static final long TIOCSWINSZ = 0x5414;
    /** {@code int}: make the terminal the controlling terminal of this session. */
    public static final long TIOCSCTTY = 0x540E;
    /** Give up the controlling terminal. */
    public static final long TIOCNOTTY = 0x5422;
    /** {@code int *}: bytes waiting to be read. */
    public static final long FIONREAD = 0x541B;
    /** {@code unsigned int *}: the number of a pty master's slave ({@code _IOR('T', 0x30, unsigned int)}). */
    public static final long TIOCGPTN = ior('T', 0x30, 4);
    /** {@code const int *}: lock (non-zero) or unlock (0) a pty slave ({@code _IOW('T', 0x31, int)}). */
    public static final long TIOCSPTLCK = iow('T', 0x31, 4);
    /** {@code int flags}: open a pty master's slave directly ({@code _IO('T', 0x41)}). */
    public static final long TIOCGPTPEER = io('T', 0x41);
    /** {@code unsigned int *}: this machine's vsock CID, on {@code /dev/vsock} ({@code _IO(7, 0xb9)}). */
    public static final long IOCTL_VM_SOCKETS_GET_LOCAL_CID = io(7, 0xb9);

    private static final int NRSHIFT = 0;
    private static final int TYPESHIFT = 8;
    private static final int SIZESHIFT = 16;
    private static final int DIRSHIFT = 30;
    private static final long NONE = 0;
    private static final long WRITE = 1;
    private static final long READ = 2;

    private Ioctls() {}

    /** {@code _IOC(dir, type, nr, size)} of {@code <asm-generic/ioctl.h>}. */
    public static long ioc(long dir, int type, int nr, int size) {
        return (dir << DIRSHIFT) | ((long) type << TYPESHIFT) | ((long) nr << NRSHIFT) | ((long) size << SIZESHIFT);
    }

    /** {@code _IO(type, nr)}: no argument data. */
    public static long io(int type, int nr) {
        return ioc(NONE, type, nr, 0);
    }

    /** {@code _IOR(type, nr, size)}: the kernel writes {@code size} bytes to the argument. */
    public static long ior(int type, int nr, int size) {
        return ioc(READ, type, nr, size);
    }

    /** {@code _IOW(type, nr, size)}: the kernel reads {@code size} bytes from the argument. */
    public static long iow(int type, int nr, int size) {
        return ioc(WRITE, type, nr, size);
    }

    /** {@code _IOWR(type, nr, size)}: both. */
    public static long iowr(int type, int nr, int size) {
        return ioc(READ | WRITE, type, nr, size);
    }
}
