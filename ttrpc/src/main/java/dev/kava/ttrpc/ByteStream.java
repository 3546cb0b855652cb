package dev.kava.ttrpc;

import java.io.Closeable;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A bidirectional byte stream that carries one ttrpc connection: a unix or vsock socket, a
 * virtio-serial port file, a pair of pipes.
 *
 * <p>The connection's reader thread calls {@code input().read} while other threads call
 * {@code output().write}: an implementation must allow one reader and one writer at the same
 * time. {@link #close()} must make a blocked {@code read} return (EOF or an exception), or the
 * reader thread of a closed connection stays blocked until the peer writes.
 */
public interface ByteStream extends Closeable {

    /** The bytes from the peer. Read by one thread only. */
    InputStream input();

    /** The bytes to the peer. Writes are serialized by the caller (one frame at a time). */
    OutputStream output();
}
