package dev.kava.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Shared plumbing of the file system classes: one errno-checked, EINTR-retrying call shape. */
final class FsCalls {
    private FsCalls() {}

    /** One native call: returns its raw result, -1 meaning "look at errno". */
    @FunctionalInterface
    interface Call {
        long invoke(MemorySegment errnoState, Arena arena) throws Throwable;
    }

    /**
     * Runs {@code call} in a fresh confined arena, retrying EINTR, and returns its non-negative
     * result; throws {@link ErrnoException} named {@code what} for any other failure.
     */
    static long run(String what, Call call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Native.errnoState(arena);
            while (true) {
                long r = call.invoke(st, arena);
                if (r != -1) {
                    return r;
                }
                int errno = Native.errno(st);
                if (errno != Errno.EINTR) {
                    throw new ErrnoException(what, errno);
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * A NUL-terminated native copy of a file name given as bytes (Linux names are bytes, not
     * necessarily UTF-8). A NUL inside would silently shorten the name, so it is refused.
     */
    static MemorySegment cName(Arena arena, byte[] name) {
        MemorySegment s = arena.allocate(name.length + 1L);
        for (int i = 0; i < name.length; i++) {
            if (name[i] == 0) {
                throw new IllegalArgumentException("NUL byte inside a file name");
            }
        }
        MemorySegment.copy(name, 0, s, JAVA_BYTE, 0, name.length);
        return s;
    }

    /** The empty C string, for the {@code AT_EMPTY_PATH} calls. */
    static MemorySegment empty(Arena arena) {
        return arena.allocate(1);
    }
}
