package dev.kava.virtio.vhostuser;

/** The front-end broke the protocol or went away: the connection is closed, with this as the reason. */
final class ProtocolException extends Exception {
    private static final long serialVersionUID = 1L;

    ProtocolException(String message) {
        super(message);
    }
}
