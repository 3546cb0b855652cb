package dev.kava.ttrpc;

import java.io.PipedInputStream;
import java.io.PipedOutputStream;

/**
 * java.io piped streams. They work because each connection writes from one long-lived writer
 * thread: a PipedInputStream reports "write end dead" once the last thread that wrote to it
 * has ended.
 */
class PipedStreamTransportTest extends TransportContract {

    @Override
    Link connect(TtrpcServer server) throws Exception {
        PipedInputStream serverIn = new PipedInputStream(64 * 1024);
        PipedOutputStream clientOut = new PipedOutputStream(serverIn);
        PipedInputStream clientIn = new PipedInputStream(64 * 1024);
        PipedOutputStream serverOut = new PipedOutputStream(clientIn);
        ByteStream serverSide = ByteStreams.of(serverIn, serverOut, serverOut::close);
        server.serveInBackground(serverSide, Thread.ofVirtual().factory());
        TtrpcClient client = new TtrpcClient(ByteStreams.of(clientIn, clientOut,
                clientOut::close));
        return new Link(client, serverSide);
    }
}
