package dev.kava.hypervisor;

import java.nio.file.Path;
import java.util.Objects;

/** Where the host reaches the guest agent's byte stream (the runtime runs ttrpc over it). */
public sealed interface AgentEndpoint {

    /**
     * A virtio-serial port of the guest (named {@code agent.0}) exposed on the host as a listening
     * unix socket: connect to {@code socket} and read/write the guest agent's bytes. One connection
     * at a time; the guest's writes wait until the host is connected.
     */
    record UnixSerial(Path socket) implements AgentEndpoint {
        public UnixSerial {
            Objects.requireNonNull(socket, "socket");
        }
    }

    /**
     * Firecracker-style hybrid vsock: connect to {@code socket}, send {@code "CONNECT <port>\n"},
     * read {@code "OK <hostport>\n"}, then the stream is the guest's vsock port {@code port}.
     */
    record HybridVsock(Path socket, int port) implements AgentEndpoint {
        public HybridVsock {
            Objects.requireNonNull(socket, "socket");
            if (port < 0) throw new IllegalArgumentException("negative vsock port " + port);
        }
    }
}
