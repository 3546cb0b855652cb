package dev.kava.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class SystemCallsTest {
    @Test
    void kernelReleaseMatchesProc() throws Exception {
        assertEquals(Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim(), SystemCalls.kernelRelease());
    }

    @Test
    void eventfdAddsWrittenCounts() {
        try (Fd efd = SystemCalls.eventfd(0, SystemCalls.EFD_CLOEXEC | SystemCalls.EFD_NONBLOCK)) {
            byte[] three = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(3).array();
            efd.writeFully(three, 0, 8);
            efd.writeFully(three, 0, 8);
            byte[] out = new byte[8];
            assertEquals(8, efd.read(out, 0, 8));
            assertEquals(6, ByteBuffer.wrap(out).order(ByteOrder.nativeOrder()).getLong());
            assertEquals(Errno.EAGAIN, assertThrows(ErrnoException.class, () -> efd.read(out, 0, 8)).errno());
        }
    }

    @Test
    void eventfdSignalAddsOneAndDrainReadsAndResets() {
        Fd efd = SystemCalls.eventfd(0, SystemCalls.EFD_CLOEXEC | SystemCalls.EFD_NONBLOCK);
        try (efd) {
            assertEquals(0, SystemCalls.eventfdDrain(efd), "nothing signalled: EAGAIN is 0");
            SystemCalls.eventfdSignal(efd);
            SystemCalls.eventfdSignal(efd);
            assertEquals(2, SystemCalls.eventfdDrain(efd));
            assertEquals(0, SystemCalls.eventfdDrain(efd), "the read reset the counter");
        }
        SystemCalls.eventfdSignal(efd); // closed (teardown): ignored, no exception
        assertEquals(0, SystemCalls.eventfdDrain(efd));
    }

    @Test
    void memfdHoldsWhatIsWritten() throws Exception {
        try (Fd mfd = SystemCalls.memfd("kava-test", SystemCalls.MFD_CLOEXEC)) {
            mfd.writeFully("in memory".getBytes(StandardCharsets.UTF_8), 0, 9);
            assertEquals("in memory", Files.readString(Path.of("/proc/self/fd/" + mfd.value())));
            assertTrue(mfd.isCloexec());
        }
    }

    @Test
    void ioctlFionreadCountsPipeBytes() {
        try (Pipe p = Pipe.open(); Arena arena = Arena.ofConfined()) {
            p.writeEnd().writeFully(new byte[5], 0, 5);
            MemorySegment n = arena.allocate(JAVA_INT);
            SystemCalls.ioctl(p.readEnd().value(), Ioctls.FIONREAD, n);
            assertEquals(5, n.get(JAVA_INT, 0));
        }
    }

    @Test
    void ioctlErrorsCarryErrno() {
        try (Pipe p = Pipe.open()) {
            ErrnoException e = assertThrows(ErrnoException.class,
                    () -> SystemCalls.ioctl(p.readEnd().value(), Ioctls.TIOCSCTTY, 0L));
            assertEquals(Errno.ENOTTY, e.errno());
        }
    }

    @Test
    void setRealtimeClockRejectsAnInvalidTimespec() {
        // nanoseconds out of range: EINVAL, and the clock is left alone
        ErrnoException e = assertThrows(ErrnoException.class, () -> SystemCalls.setRealtimeClock(0, 2_000_000_000L));
        assertEquals(Errno.EINVAL, e.errno());
    }

    @Test
    void sethostnameAcceptsTheCurrentName() throws Exception {
        String current = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        try {
            SystemCalls.sethostname(current);
        } catch (ErrnoException e) {
            Assumptions.assumeTrue(e.errno() != Errno.EPERM, "no CAP_SYS_ADMIN: " + e.getMessage());
            throw e;
        }
        assertEquals(current, Files.readString(Path.of("/proc/sys/kernel/hostname")).trim());
    }

    @Test
    void syncReturns() {
        SystemCalls.sync();
    }

    @Test
    void ioctlNumbersEncodeLikeTheKernelMacros() {
        assertEquals(0x80045430L, Ioctls.TIOCGPTN);
        assertEquals(0x40045431L, Ioctls.TIOCSPTLCK);
        assertEquals(0xAE80L, Ioctls.io(0xAE, 0x80)); // KVM_RUN
    }
}
