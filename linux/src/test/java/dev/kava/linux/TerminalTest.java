package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TerminalTest {
    private static int lflag(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment t = arena.allocate(Structs.TERMIOS);
            Terminal.tcgetattr(fd, t);
            return t.get(JAVA_INT, Structs.offset(Structs.TERMIOS, "c_lflag"));
        }
    }

    @Test
    void openPtyGivesATerminalPair() {
        try (Terminal.Pty pty = Terminal.openPty(); Pipe pipe = Pipe.open()) {
            assertTrue(pty.slaveName().startsWith("/dev/pts/"), pty.slaveName());
            assertTrue(Terminal.isatty(pty.slave().value()));
            assertTrue(Terminal.isatty(pty.master().value()));
            assertFalse(Terminal.isatty(pipe.readEnd().value()));
            assertTrue(pty.master().isCloexec() && pty.slave().isCloexec());
        }
    }

    @Test
    void windowSizeSetOnTheMasterIsSeenOnTheSlave() {
        try (Terminal.Pty pty = Terminal.openPty()) {
            Terminal.setWindowSize(pty.master().value(), 40, 120);
            assertEquals(new Terminal.WinSize(40, 120), Terminal.windowSize(pty.slave().value()));
            Terminal.setWindowSize(pty.slave().value(), 50000, 7);
            assertEquals(new Terminal.WinSize(50000, 7), Terminal.windowSize(pty.master().value()));
        }
    }

    @Test
    void windowSizeOfAPipeThrowsEnotty() {
        try (Pipe pipe = Pipe.open()) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> Terminal.windowSize(pipe.readEnd().value()));
            assertEquals("ENOTTY", e.errnoName());
        }
    }

    @Test
    void rawModeTurnsOffEchoAndLineEditingAndCloseRestores() {
        try (Terminal.Pty pty = Terminal.openPty()) {
            int slave = pty.slave().value();
            int before = lflag(slave);
            assertTrue((before & Terminal.ICANON) != 0 && (before & Terminal.ECHO) != 0);
            Terminal.RawMode raw = Terminal.rawMode(slave);
            int during = lflag(slave);
            assertEquals(0, during & (Terminal.ICANON | Terminal.ECHO | Terminal.ISIG));

            // raw: bytes arrive without waiting for a newline
            byte[] abc = "abc".getBytes(StandardCharsets.UTF_8);
            pty.master().writeFully(abc, 0, 3);
            byte[] got = new byte[3];
            int n = 0;
            while (n < 3) {
                n += pty.slave().read(got, n, 3 - n);
            }
            assertArrayEquals(abc, got);

            raw.close();
            raw.close();
            assertEquals(before, lflag(slave));
        }
    }

    @Test
    void makeRawMatchesGlibcCfmakeraw() throws Throwable {
        MethodHandle cfmakeraw = Native.plainCall("cfmakeraw", FunctionDescriptor.ofVoid(ADDRESS));
        try (Terminal.Pty pty = Terminal.openPty(); Arena arena = Arena.ofConfined()) {
            MemorySegment ours = arena.allocate(Structs.TERMIOS);
            Terminal.tcgetattr(pty.slave().value(), ours);
            MemorySegment theirs = arena.allocate(Structs.TERMIOS);
            theirs.copyFrom(ours);
            Terminal.makeRaw(ours);
            cfmakeraw.invokeExact(theirs);
            assertArrayEquals(theirs.toArray(JAVA_BYTE), ours.toArray(JAVA_BYTE));
        }
    }
}
