package dev.kava.virtio.vhostuser;

import dev.kava.linux.Fd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * One vhost-user message: the 12-byte header (request, flags, size) and its payload, in the
 * machine's byte order, plus the descriptors that came with it. The message owns its
 * descriptors until a handler {@link #takeFds() takes} them; {@link #closeFds()} closes the rest.
 */
final class Message {
    static final int HEADER_SIZE = 12;
    static final int VERSION = 0x1;
    static final int VERSION_MASK = 0x3;
    static final int FLAG_REPLY = 0x4;
    static final int FLAG_NEED_REPLY = 0x8;

    final int request;
    final int flags;
    final byte[] payload;
    private List<Fd> fds;

    Message(int request, int flags, byte[] payload, List<Fd> fds) {
        this.request = request;
        this.flags = flags;
        this.payload = payload;
        this.fds = new ArrayList<>(fds);
    }

    boolean needsReply() {
        return (flags & FLAG_NEED_REPLY) != 0;
    }

    int fdCount() {
        return fds.size();
    }

    /** Hands the descriptors to the caller, who must close them. */
    List<Fd> takeFds() {
        List<Fd> taken = fds;
        fds = new ArrayList<>();
        return taken;
    }

    void closeFds() {
        for (Fd fd : fds) {
            fd.close();
        }
        fds.clear();
    }

    ByteBuffer body() {
        return ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
    }

    /** A reply to {@code request}: header with the REPLY flag, then {@code payload}. */
    static byte[] reply(int request, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE + payload.length).order(ByteOrder.nativeOrder());
        b.putInt(request).putInt(VERSION | FLAG_REPLY).putInt(payload.length).put(payload);
        return b.array();
    }

    static byte[] u64(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(value).array();
    }

    static byte[] vringState(int index, int num) {
        return ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putInt(index).putInt(num).array();
    }

    @Override
    public String toString() {
        VhostUserRequest r = VhostUserRequest.of(request);
        String value = switch (payload.length) {
            case 8 -> {
                ByteBuffer b = body();
                yield ", " + (r == VhostUserRequest.SET_FEATURES || r == VhostUserRequest.SET_PROTOCOL_FEATURES
                        || r == VhostUserRequest.SET_VRING_KICK || r == VhostUserRequest.SET_VRING_CALL
                        || r == VhostUserRequest.SET_VRING_ERR
                        ? "0x" + Long.toHexString(b.getLong()) : "{" + b.getInt() + ", " + b.getInt() + "}");
            }
            default -> "";
        };
        return (r != null ? r.name() : "request " + request) + "[flags 0x" + Integer.toHexString(flags)
                + ", " + payload.length + " bytes" + value + ", " + fds.size() + " fds]";
    }
}
