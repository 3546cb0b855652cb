package dev.kava.ttrpc;

import java.nio.channels.Channels;
import java.nio.channels.Pipe;

/**
 * Two OS pipes, one per direction: the shape of a virtio-serial port, which has no connection
 * boundaries, read and written by platform threads as an FFM-backed fd would be.
 */
class OsPipeTransportTest extends TransportContract {

    @Override
    Link connect(TtrpcServer server) throws Exception {
        Pipe toServer = Pipe.open();
        Pipe toClient = Pipe.open();
        ByteStream serverSide = ByteStreams.of(Channels.newInputStream(toServer.source()),
                Channels.newOutputStream(toClient.sink()), null);
        server.serveInBackground(serverSide, Thread.ofPlatform().daemon().factory());
        ByteStream clientSide = ByteStreams.of(Channels.newInputStream(toClient.source()),
                Channels.newOutputStream(toServer.sink()), null);
        TtrpcClient client = new TtrpcClient(clientSide, Thread.ofPlatform().daemon()
                .factory());
        return new Link(client, serverSide);
    }
}
