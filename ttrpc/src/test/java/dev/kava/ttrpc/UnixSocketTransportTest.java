package dev.kava.ttrpc;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

class UnixSocketTransportTest extends TransportContract {
    @TempDir Path dir;

    @Override
    Link connect(TtrpcServer server) throws Exception {
        Path socket = dir.resolve("t.sock");
        server.listen(socket);
        return new Link(new TtrpcClient(ByteStreams.connectUnix(socket)), server::close);
    }
}
