package dev.kava.virtio.vsock;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A virtio-vsock device with Firecracker's hybrid vsock host side.
 *
 * @param guestCid the guest's context id (3 or more; 0-2 are reserved)
 * @param socket   the host unix socket the device listens on: a host client connects, sends
 *                 {@code CONNECT <port>\n} and is answered {@code OK <hostport>\n}; a guest
 *                 connection to host port P reaches a listener at {@code <socket>_<P>}
 */
public record VsockConfig(long guestCid, Path socket) {
    /** sun_path holds 107 bytes and a NUL; {@code _<port>} may add 11. */
    public static final int MAX_SOCKET_PATH = 107 - 11;

    public VsockConfig {
        Objects.requireNonNull(socket, "socket");
        if (guestCid < 3 || guestCid > 0xFFFF_FFFEL) {
            throw new IllegalArgumentException("guest CID must be 3..0xfffffffe: " + guestCid);
        }
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH) {
            throw new IllegalArgumentException("vsock socket path longer than " + MAX_SOCKET_PATH + " bytes: " + socket);
        }
    }

    /** Where a guest connection to host port {@code port} goes: {@code <socket>_<port>}. */
    public Path listenerFor(long port) {
        return Path.of(socket + "_" + Integer.toUnsignedString((int) port));
    }
}
