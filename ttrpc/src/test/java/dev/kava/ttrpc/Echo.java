package dev.kava.ttrpc;

import com.google.protobuf.StringValue;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** A server on a unix socket in a test's temp dir, with clients connected to it. */
final class Echo implements AutoCloseable {
    static final String SERVICE = "kava.test.Echo";
    static final Duration TIMEOUT = Duration.ofSeconds(10);

    final TtrpcServer server = new TtrpcServer();
    final Path socket;

    Echo(Path dir) throws IOException {
        socket = dir.resolve("ttrpc.sock");
        server.register(SERVICE, "Echo", StringValue.parser(), (q, ctx) -> q);
    }

    Echo listen() throws IOException {
        server.listen(socket);
        return this;
    }

    TtrpcClient connect() throws IOException {
        return new TtrpcClient(ByteStreams.connectUnix(socket));
    }

    static StringValue s(String v) {
        return StringValue.of(v);
    }

    static String echo(TtrpcClient c, String v) throws TtrpcException {
        return c.call(SERVICE, "Echo", s(v), StringValue.parser(), TIMEOUT).getValue();
    }

    @Override
    public void close() {
        server.close();
    }
}
