package dev.kava.ttrpc;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/** Factories of {@link ByteStream}s. */
public final class ByteStreams {

    private ByteStreams() {}

    /**
     * A stream over a connected blocking socket channel (unix or inet). Reads and writes go to
     * the channel directly, so one thread can read while another writes; closing the stream
     * closes the channel, which wakes a blocked reader.
     */
    public static ByteStream of(SocketChannel ch) {
        Objects.requireNonNull(ch, "ch");
        return new SocketStream(ch);
    }

    /**
     * A stream over a pair of java.io streams, e.g. a virtio-serial port opened as a file, or
     * two pipes. {@code onClose} is what {@link ByteStream#close()} does; when it is null, close
     * closes {@code in} and then {@code out}. Such a stream cannot signal connection boundaries:
     * EOF on {@code in} is taken as the end of the connection.
     */
    public static ByteStream of(InputStream in, OutputStream out, Closeable onClose) {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(out, "out");
        Closeable closer = onClose != null ? onClose : () -> {
            try (in; out) {
                // closes both, in then out, even if one throws
            }
        };
        return new ByteStream() {
            @Override public InputStream input() { return in; }
            @Override public OutputStream output() { return out; }
            @Override public void close() throws IOException { closer.close(); }
            @Override public String toString() { return "ByteStream[" + in + ", " + out + "]"; }
        };
    }

    /** Connects to a unix domain socket (blocking). */
    public static ByteStream connectUnix(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return of(ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * java.io views of a channel that hold no lock across read and write. Each direction copies
     * through a direct buffer of its own, so the JDK does not take a temporary direct buffer
     * sized by each call (the frame writer's gathered writes vary from bytes to 256 KiB).
     */
    private static final class SocketStream implements ByteStream {
        private static final int CHUNK = 64 * 1024;

        private final SocketChannel ch;
        private final InputStream in;
        private final OutputStream out;

        SocketStream(SocketChannel ch) {
            this.ch = ch;
            this.in = new InputStream() {
                private final ReentrantLock lock = new ReentrantLock();
                private ByteBuffer buf;

                @Override public int read() throws IOException {
                    byte[] one = new byte[1];
                    int n = read(one, 0, 1);
                    return n < 0 ? -1 : one[0] & 0xff;
                }

                @Override public int read(byte[] b, int off, int len) throws IOException {
                    Objects.checkFromIndexSize(off, len, b.length);
                    if (len == 0) {
                        return 0;
                    }
                    lock.lock();
                    try {
                        if (buf == null) {
                            buf = ByteBuffer.allocateDirect(CHUNK);
                        }
                        buf.clear().limit(Math.min(len, CHUNK));
                        int n = ch.read(buf);
                        if (n > 0) {
                            buf.flip().get(b, off, n);
                        }
                        return n;
                    } finally {
                        lock.unlock();
                    }
                }

                @Override public void close() throws IOException { ch.close(); }
            };
            this.out = new OutputStream() {
                private final ReentrantLock lock = new ReentrantLock();
                private ByteBuffer buf;

                @Override public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override public void write(byte[] b, int off, int len) throws IOException {
                    Objects.checkFromIndexSize(off, len, b.length);
                    lock.lock();
                    try {
                        if (buf == null) {
                            buf = ByteBuffer.allocateDirect(CHUNK);
                        }
                        int done = 0;
                        while (done < len) {
                            int n = Math.min(CHUNK, len - done);
                            buf.clear();
                            buf.put(b, off + done, n).flip();
                            while (buf.hasRemaining()) {
                                ch.write(buf);
                            }
                            done += n;
                        }
                    } finally {
                        lock.unlock();
                    }
                }

                @Override public void close() throws IOException { ch.close(); }
            };
        }

        @Override public InputStream input() { return in; }
        @Override public OutputStream output() { return out; }
        @Override public void close() throws IOException { ch.close(); }
        @Override public String toString() { return "ByteStream[" + ch + "]"; }
    }
}
