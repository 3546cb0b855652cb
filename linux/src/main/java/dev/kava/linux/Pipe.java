package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** Both ends of a pipe, {@code pipe(7)}. Closing the record closes both ends. */
public record Pipe(Fd readEnd, Fd writeEnd) implements AutoCloseable {
    /** {@code int pipe2(int pipefd[2], int flags)} */
    private static final Native.Lazy PIPE2 = Native.lazyErrnoCall("pipe2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

    /** A new pipe, both ends close-on-exec: {@code pipe2(2)} with O_CLOEXEC. */
    public static Pipe open() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            Native.check((int) PIPE2.handle().invokeExact(st, fds, OpenFlags.O_CLOEXEC), st, "pipe2");
            return new Pipe(Fd.adopt(fds.getAtIndex(JAVA_INT, 0)), Fd.adopt(fds.getAtIndex(JAVA_INT, 1)));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    @Override
    public void close() {
        try {
            readEnd.close();
        } finally {
            writeEnd.close();
        }
    }
}
