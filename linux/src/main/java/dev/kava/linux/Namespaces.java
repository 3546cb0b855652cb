package dev.kava.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;

/**
 * Entering Linux namespaces, {@code setns(2)}. Only the calling thread moves (for network,
 * UTS and IPC namespaces), so callers use a short-lived platform thread of their own: descriptors
 * it creates (sockets, taps) stay in the namespace they were made in after the thread ends.
 */
public final class Namespaces {
    /** {@code setns(2)} namespace types. */
    public static final int CLONE_NEWNET = 0x40000000;
    public static final int CLONE_NEWUTS = 0x04000000;
    public static final int CLONE_NEWIPC = 0x08000000;

    /** {@code int setns(int fd, int nstype)} */
    private static final Native.Lazy SETNS = Native.lazyErrnoCall("setns",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    private Namespaces() {}

    /**
     * Moves the calling thread into the namespace {@code ns} refers to (e.g. an open
     * {@code /run/netns/NAME}), {@code setns(2)}; {@code type} is 0 (any) or a {@code CLONE_NEW*}.
     */
    public static void enter(Fd ns, int type) {
        int raw = ns.acquire("setns");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            Native.check((int) SETNS.handle().invokeExact(st, raw, type), st, "setns(fd " + raw + ", 0x" + Integer.toHexString(type) + ")");
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            ns.release();
        }
    }
}
