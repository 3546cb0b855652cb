/**
 * Linux system calls for every other kava module, made through {@code java.lang.foreign} (FFM):
 * no JNI and no C in the product.
 *
 * <p>What lives here: file descriptors ({@link dev.kava.linux.Fd}, {@link dev.kava.linux.Pipe}),
 * processes and signals ({@link dev.kava.linux.Processes}, {@link dev.kava.linux.Signals}), mounts
 * ({@link dev.kava.linux.Mounts}), terminals and ptys ({@link dev.kava.linux.Terminal}), AF_UNIX
 * sockets with descriptor passing ({@link dev.kava.linux.UnixSocket}), vsock
 * ({@link dev.kava.linux.Vsock}), taps ({@link dev.kava.linux.Tap}), thread-directed signals for
 * kicking vCPUs ({@link dev.kava.linux.ThreadSignals}), namespaces ({@link dev.kava.linux.Namespaces}),
 * ioctl numbers ({@link dev.kava.linux.Ioctls}) and a few single calls
 * ({@link dev.kava.linux.SystemCalls}).
 *
 * <h2>Errors</h2>
 * Every failed call throws an {@link dev.kava.linux.ErrnoException} (a
 * {@link dev.kava.linux.LinuxException}, the one exception type of this module) carrying the errno
 * of <em>that</em> call: errno is captured with {@code Linker.Option.captureCallState("errno")}
 * into a buffer allocated for the call, so threads never share it.
 *
 * <h2>Threads</h2>
 * A downcall that blocks in the kernel (read on a pipe, socket or tty; accept; waitpid without
 * WNOHANG) holds the thread that made it. On a virtual thread it also pins that thread's carrier,
 * starving other virtual threads: make blocking calls from platform threads.
 *
 * <h2>Layouts</h2>
 * C structs are spelled out with explicit padding in package-private {@code Structs}; a test
 * compiles a C program with gcc and checks every size, offset and constant against the headers.
 */
package dev.kava.linux;
