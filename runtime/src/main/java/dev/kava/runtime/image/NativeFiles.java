package dev.kava.runtime.image;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * The two file calls java.nio lacks or does badly: mkfifo(3), and utimensat(2) with
 * AT_SYMLINK_NOFOLLOW (java.nio's setTimes opens the file, which blocks on a FIFO and fails on a
 * symlink). Kept here rather than in the linux module so that images build on their own.
 */
final class NativeFiles {
    private static final int AT_FDCWD = -100;
    private static final int AT_SYMLINK_NOFOLLOW = 0x100;
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    /** struct timespec { time_t tv_sec; long tv_nsec; } on x86-64 and aarch64. */
    private static final MemoryLayout TIMESPEC_PAIR = MemoryLayout.sequenceLayout(4, ValueLayout.JAVA_LONG);
    private static final MethodHandle MKFIFO;
    private static final MethodHandle UTIMENSAT;

    static {
        MKFIFO = downcall("mkfifo", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        UTIMENSAT = downcall("utimensat", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    @SuppressWarnings("restricted")  // needs --enable-native-access, as every kava module that calls Linux does
    private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().find(name).orElseThrow(), descriptor,
                Linker.Option.captureCallState("errno"));
    }

    private NativeFiles() { }

    /** Creates a FIFO at path (an existing entry makes it fail, so nothing is followed). */
    static void mkfifo(Path path, int mode) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) MKFIFO.invokeExact(state, arena.allocateFrom(path.toString()), mode);
            check(rc, state, "mkfifo", path);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("mkfifo " + path, t);
        }
    }

    /** Sets access and modification time of path itself (a symlink is not followed). */
    static void setTimes(Path path, long epochSeconds) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment times = arena.allocate(TIMESPEC_PAIR);
            times.setAtIndex(ValueLayout.JAVA_LONG, 0, epochSeconds);
            times.setAtIndex(ValueLayout.JAVA_LONG, 1, 0);
            times.setAtIndex(ValueLayout.JAVA_LONG, 2, epochSeconds);
            times.setAtIndex(ValueLayout.JAVA_LONG, 3, 0);
            int rc = (int) UTIMENSAT.invokeExact(state, AT_FDCWD, arena.allocateFrom(path.toString()), times, AT_SYMLINK_NOFOLLOW);
            check(rc, state, "utimensat", path);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("utimensat " + path, t);
        }
    }

    private static void check(int rc, MemorySegment state, String call, Path path) throws IOException {
        if (rc != 0) {
            throw new IOException(call + " " + path + ": errno " + (int) ERRNO.get(state, 0L));
        }
    }
}
