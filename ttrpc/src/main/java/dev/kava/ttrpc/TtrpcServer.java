package dev.kava.ttrpc;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadFactory;
import java.util.logging.Level;

/**
 * A ttrpc server: methods registered by service and method name, served over any number of
 * connections.
 *
 * <p>Threads: each connection has a reader (the thread that calls {@link #serve}, or one from
 * the factory given to {@link #serveInBackground}) and a writer from the same kind of factory;
 * every request runs its handler on a virtual thread of its own. Responses are written whole,
 * one frame at a time, by the connection's writer.
 *
 * <p>Statuses: an unregistered method is answered {@link Code#UNIMPLEMENTED} "service X method
 * Y not found"; a handler that throws {@link TtrpcException} answers its code and message, any
 * other exception {@link Code#UNKNOWN} with the exception's message; a request whose {@code
 * timeout_nano} passes before its handler returns is answered {@link Code#DEADLINE_EXCEEDED}
 * at once, its context marked cancelled, and whatever the handler returns later is dropped.
 * Handlers are not interrupted: an interrupt would close any {@code InterruptibleChannel} the
 * handler uses. They poll {@link CallContext#isCancelled()}, register {@link
 * CallContext#onCancel}, or block in {@link ServerStream#receive()}, which wakes on cancel.
 */
public final class TtrpcServer implements AutoCloseable {
    private static final ThreadFactory VIRTUAL = Thread.ofVirtual().name("ttrpc-server")
            .factory();

    private final Map<String, ServerCall.Route> routes = new ConcurrentHashMap<>();
    private final Set<ServerConnection> connections = ConcurrentHashMap.newKeySet();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private record Listener(ServerSocketChannel channel, Path path) {}

    public TtrpcServer() {}

    /** Registers a unary method; replaces an earlier registration of the same name. */
    public <Q extends MessageLite, R extends MessageLite> TtrpcServer register(String service,
            String method, Parser<Q> parser, UnaryHandler<Q, R> handler) {
        Objects.requireNonNull(parser, "parser");
        Objects.requireNonNull(handler, "handler");
        routes.put(key(service, method), new ServerCall.UnaryRoute<>(parser, handler));
        return this;
    }

    /**
     * Registers a streaming method (client-streaming, server-streaming, or both: the client's
     * request flags say which); replaces an earlier registration of the same name.
     */
    public <Q extends MessageLite, R extends MessageLite> TtrpcServer registerStream(String service,
            String method, Parser<Q> parser, StreamHandler<Q, R> handler) {
        Objects.requireNonNull(parser, "parser");
        Objects.requireNonNull(handler, "handler");
        routes.put(key(service, method), new ServerCall.StreamRoute<>(parser, handler));
        return this;
    }

    private static String key(String service, String method) {
        return Objects.requireNonNull(service, "service") + "/"
                + Objects.requireNonNull(method, "method");
    }

    ServerCall.Route route(String service, String method) {
        return routes.get(service + "/" + method);
    }

    /**
     * Serves one connection on the calling thread until EOF, an error, or {@link #close()};
     * then closes it and returns. Its writer is a virtual thread. A protocol error is logged
     * (logger "dev.kava.ttrpc") and closes this connection only.
     */
    public void serve(ByteStream connection) {
        serve(connection, VIRTUAL);
    }

    /**
     * As {@link #serve(ByteStream)}, with the writer thread from {@code writerThread}: pass a
     * platform-thread factory when {@code connection.output()} blocks in a native call.
     */
    public void serve(ByteStream connection, ThreadFactory writerThread) {
        ServerConnection c = new ServerConnection(this, connection, writerThread);
        connections.add(c);
        if (closed) {
            c.close();
        }
        c.run();
    }

    /**
     * Serves one connection on a thread from {@code readerThreads} (which also makes its
     * writer), and returns that started thread.
     */
    public Thread serveInBackground(ByteStream connection, ThreadFactory readerThreads) {
        Thread t = readerThreads.newThread(() -> serve(connection, readerThreads));
        if (t == null) {
            throw new IllegalStateException("thread factory refused the reader thread");
        }
        t.start();
        return t;
    }

    /**
     * Listens on a unix socket (which must not exist yet) and serves each client that connects,
     * on virtual threads; returns once the socket is bound. The socket file is deleted by
     * {@link #close()}.
     */
    public void listen(Path unixSocket) throws IOException {
        if (closed) {
            throw new IOException("server closed");
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(unixSocket));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        serve(ch, unixSocket);
    }

    /**
     * Serves clients of a unix socket that the caller has already bound and listens on (so it can
     * accept connections into the backlog before the server exists). The server owns {@code ch}
     * from now on; {@link #close()} closes it and deletes {@code unixSocket}.
     */
    public void serve(ServerSocketChannel ch, Path unixSocket) throws IOException {
        Listener l = new Listener(ch, unixSocket);
        listeners.add(l);
        if (closed) {
            closeListener(l);
            throw new IOException("server closed");
        }
        Thread.ofVirtual().name("ttrpc-accept " + unixSocket).start(() -> acceptLoop(l));
    }

    private void acceptLoop(Listener l) {
        while (!closed && l.channel().isOpen()) {
            try {
                SocketChannel client = l.channel().accept();
                serveInBackground(ByteStreams.of(client), VIRTUAL);
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (closed || !l.channel().isOpen()) {
                    return;
                }
                Statuses.LOG.log(Level.WARNING, "ttrpc accept on " + l.path() + " failed", e);
                try {
                    Thread.sleep(10); // e.g. out of file descriptors: do not spin
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    void connectionClosed(ServerConnection c) {
        connections.remove(c);
    }

    /** The connections being served now. */
    public int connectionCount() {
        return connections.size();
    }

    /** Closes every listener (deleting its socket file) and every connection. */
    @Override
    public void close() {
        closed = true;
        for (Listener l : listeners) {
            closeListener(l);
        }
        listeners.clear();
        for (ServerConnection c : connections) {
            c.close();
        }
    }

    private static void closeListener(Listener l) {
        try {
            l.channel().close();
        } catch (IOException e) {
            Statuses.LOG.log(Level.FINE, "closing listener " + l.path(), e);
        }
        try {
            Files.deleteIfExists(l.path());
        } catch (IOException e) {
            Statuses.LOG.log(Level.FINE, "deleting " + l.path(), e);
        }
    }
}
