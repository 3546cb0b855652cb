package dev.kava.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * Linking libc functions and capturing errno. Every handle made by {@link #errnoCall} takes, as its
 * first argument, a capture segment from {@link #errnoState(Arena)}: one per call, allocated in
 * the caller's arena, so no two calls (or threads) ever share an errno buffer.
 */
@SuppressWarnings("restricted") // linking libc is this class's purpose
final class Native {
    static final Linker LINKER = Linker.nativeLinker();
    static final SymbolLookup LIBC = LINKER.defaultLookup();

    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    static final FunctionDescriptor ADDRESS_OF_INT = FunctionDescriptor.of(ADDRESS, JAVA_INT);
    static final FunctionDescriptor INT_OF_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);

    private Native() {}

    /**
     * A handle for a libc function whose failures set errno. The handle's first parameter is the
     * capture segment; the rest follow {@code descriptor}.
     */
    static MethodHandle errnoCall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        Linker.Option[] all = Arrays.copyOf(options, options.length + 1);
        all[options.length] = CAPTURE_ERRNO;
        return LINKER.downcallHandle(symbol(name), descriptor, all);
    }

    /** A handle for a libc function that does not report errors through errno. */
    static MethodHandle plainCall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        return LINKER.downcallHandle(symbol(name), descriptor, options);
    }

    /**
     * A downcall linked on first use. Linking costs several milliseconds per function on a cold JVM,
     * and seconds in all under emulation (the guest agent's start-up), while most processes use a
     * few of the calls a class offers. Thread-safe; at worst two threads link the same handle.
     */
    static final class Lazy {
        private final java.util.function.Supplier<MethodHandle> link;
        private volatile MethodHandle handle;

        private Lazy(java.util.function.Supplier<MethodHandle> link) {
            this.link = link;
        }

        MethodHandle handle() {
            MethodHandle h = handle;
            if (h == null) {
                h = link.get();
                handle = h;
            }
            return h;
        }
    }

    /** {@link #errnoCall}, linked on first use. */
    static Lazy lazyErrnoCall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        return new Lazy(() -> errnoCall(name, descriptor, options));
    }

    /** {@link #plainCall}, linked on first use. */
    static Lazy lazyPlainCall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        return new Lazy(() -> plainCall(name, descriptor, options));
    }

    /** Like {@link #plainCall}, or null when this libc does not have the function. */
    static MethodHandle optional(String name, FunctionDescriptor descriptor) {
        return LIBC.find(name).map(s -> LINKER.downcallHandle(s, descriptor)).orElse(null);
    }

    private static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new LinuxException("libc has no " + name));
    }

    /** A fresh errno capture segment for one call. */
    static MemorySegment errnoState(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    /** The errno a call stored into its capture segment. */
    static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** Returns {@code result}, or throws the call's errno when it is -1. */
    static int check(int result, MemorySegment state, String call) {
        if (result == -1) {
            throw new ErrnoException(call, errno(state));
        }
        return result;
    }

    /** Returns {@code result}, or throws the call's errno when it is -1. */
    static long check(long result, MemorySegment state, String call) {
        if (result == -1) {
            throw new ErrnoException(call, errno(state));
        }
        return result;
    }

    /** Unchecked rethrow of what a {@code invokeExact} threw. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new LinuxException("native call failed", t);
    }

    /** A NUL-terminated copy of {@code s}, or NULL when {@code s} is null. */
    static MemorySegment cString(Arena arena, String s) {
        return s == null ? MemorySegment.NULL : arena.allocateFrom(s);
    }
}
