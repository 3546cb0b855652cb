package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** Terminals: {@code isatty(3)}, window size ({@code ioctl_tty(2)}), raw mode ({@code termios(3)}), ptys ({@code pty(7)}). */
public final class Terminal {
    /** A terminal's size in character cells. */
    public record WinSize(int rows, int cols) {}

    /** A pseudo-terminal pair; closing it closes both ends. */
    public record Pty(Fd master, Fd slave, String slaveName) implements AutoCloseable {
        @Override
        public void close() {
            try {
                slave.close();
            } finally {
                master.close();
            }
        }
    }

    // termios flags of glibc x86-64 (octal, as in <bits/termios-*.h>), used by cfmakeraw.
    static final int IGNBRK = 0000001;
    static final int BRKINT = 0000002;
    static final int PARMRK = 0000010;
    static final int ISTRIP = 0000040;
    static final int INLCR = 0000100;
    static final int IGNCR = 0000200;
    static final int ICRNL = 0000400;
    static final int IXON = 0002000;
    static final int OPOST = 0000001;
    static final int ISIG = 0000001;
    static final int ICANON = 0000002;
    static final int ECHO = 0000010;
    static final int ECHONL = 0000100;
    static final int IEXTEN = 0100000;
    static final int CSIZE = 0000060;
    static final int CS8 = 0000060;
    static final int PARENB = 0000400;
    static final int VTIME = 5;
    static final int VMIN = 6;
    static final int TCSANOW = 0;

    /** {@code int isatty(int fd)} */
    private static final Native.Lazy ISATTY = Native.lazyPlainCall("isatty", Native.INT_OF_INT);
    /** {@code int tcgetattr(int fd, struct termios *t)} */
    private static final Native.Lazy TCGETATTR = Native.lazyErrnoCall("tcgetattr",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    /** {@code int tcsetattr(int fd, int when, const struct termios *t)} */
    private static final Native.Lazy TCSETATTR = Native.lazyErrnoCall("tcsetattr",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));

    private Terminal() {}

    /** Whether {@code fd} refers to a terminal, {@code isatty(3)}. */
    public static boolean isatty(int fd) {
        try {
            return (int) ISATTY.handle().invokeExact(fd) == 1;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** A terminal's window size, {@code ioctl_tty(2)} TIOCGWINSZ. */
    public static WinSize windowSize(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ws = arena.allocate(Structs.WINSIZE);
            SystemCalls.ioctl("ioctl(fd " + fd + ", TIOCGWINSZ)", fd, Ioctls.TIOCGWINSZ, ws);
            return new WinSize(Short.toUnsignedInt(ws.get(JAVA_SHORT, Structs.offset(Structs.WINSIZE, "ws_row"))),
                    Short.toUnsignedInt(ws.get(JAVA_SHORT, Structs.offset(Structs.WINSIZE, "ws_col"))));
        }
    }

    /** Sets a terminal's window size, {@code ioctl_tty(2)} TIOCSWINSZ (pixels set to 0). */
    public static void setWindowSize(int fd, int rows, int cols) {
        if (rows < 0 || rows > 0xffff || cols < 0 || cols > 0xffff) {
            throw new IllegalArgumentException("window size out of range: " + rows + "x" + cols);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ws = arena.allocate(Structs.WINSIZE);
            ws.set(JAVA_SHORT, Structs.offset(Structs.WINSIZE, "ws_row"), (short) rows);
            ws.set(JAVA_SHORT, Structs.offset(Structs.WINSIZE, "ws_col"), (short) cols);
            SystemCalls.ioctl("ioctl(fd " + fd + ", TIOCSWINSZ)", fd, Ioctls.TIOCSWINSZ, ws);
        }
    }

    /**
     * Puts a terminal in raw mode: {@code tcgetattr(3)}, the changes {@code cfmakeraw(3)} makes,
     * {@code tcsetattr(3)} TCSANOW. Closing the result restores the saved settings (once).
     */
    public static RawMode rawMode(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment t = arena.allocate(Structs.TERMIOS);
            tcgetattr(fd, t);
            byte[] saved = t.toArray(JAVA_BYTE);
            makeRaw(t);
            tcsetattr(fd, t);
            return new RawMode(fd, saved);
        }
    }

    /** A terminal in raw mode; {@link #close()} restores its earlier settings. */
    public static final class RawMode implements AutoCloseable {
        private final int fd;
        private final byte[] saved;
        private boolean restored;

        private RawMode(int fd, byte[] saved) {
            this.fd = fd;
            this.saved = saved;
        }

        /** Restores the saved termios, {@code tcsetattr(3)}; later calls do nothing. */
        @Override
        public synchronized void close() {
            if (restored) {
                return;
            }
            restored = true;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment t = arena.allocate(Structs.TERMIOS);
                MemorySegment.copy(saved, 0, t, JAVA_BYTE, 0, saved.length);
                tcsetattr(fd, t);
            }
        }
    }

    /** The flag changes of glibc's {@code cfmakeraw(3)}, on a {@code struct termios}. */
    static void makeRaw(MemorySegment t) {
        long iflag = Structs.offset(Structs.TERMIOS, "c_iflag");
        long oflag = Structs.offset(Structs.TERMIOS, "c_oflag");
        long cflag = Structs.offset(Structs.TERMIOS, "c_cflag");
        long lflag = Structs.offset(Structs.TERMIOS, "c_lflag");
        long cc = Structs.offset(Structs.TERMIOS, "c_cc");
        t.set(JAVA_INT, iflag, t.get(JAVA_INT, iflag) & ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON));
        t.set(JAVA_INT, oflag, t.get(JAVA_INT, oflag) & ~OPOST);
        t.set(JAVA_INT, lflag, t.get(JAVA_INT, lflag) & ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN));
        t.set(JAVA_INT, cflag, (t.get(JAVA_INT, cflag) & ~(CSIZE | PARENB)) | CS8);
        t.set(JAVA_BYTE, cc + VMIN, (byte) 1);
        t.set(JAVA_BYTE, cc + VTIME, (byte) 0);
    }

    static void tcgetattr(int fd, MemorySegment termios) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) TCGETATTR.handle().invokeExact(st, fd, termios), st, "tcgetattr(fd " + fd + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    static void tcsetattr(int fd, MemorySegment termios) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) TCSETATTR.handle().invokeExact(st, fd, TCSANOW, termios), st, "tcsetattr(fd " + fd + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Opens a new pseudo-terminal, {@code pty(7)}: {@code /dev/ptmx}, unlock with TIOCSPTLCK, find
     * the slave with TIOCGPTN, open {@code /dev/pts/N}. Both ends are O_NOCTTY and close-on-exec.
     */
    public static Pty openPty() {
        int flags = OpenFlags.O_RDWR | OpenFlags.O_NOCTTY | OpenFlags.O_CLOEXEC;
        Fd master = Fd.open("/dev/ptmx", flags, 0);
        try (Arena arena = Arena.ofConfined()) {
            int m = master.value();
            MemorySegment arg = arena.allocate(JAVA_INT);
            arg.set(JAVA_INT, 0, 0);
            SystemCalls.ioctl("ioctl(/dev/ptmx, TIOCSPTLCK)", m, Ioctls.TIOCSPTLCK, arg);
            SystemCalls.ioctl("ioctl(/dev/ptmx, TIOCGPTN)", m, Ioctls.TIOCGPTN, arg);
            String name = "/dev/pts/" + Integer.toUnsignedString(arg.get(JAVA_INT, 0));
            return new Pty(master, Fd.open(name, flags, 0), name);
        } catch (RuntimeException e) {
            master.close();
            throw e;
        }
    }
}
