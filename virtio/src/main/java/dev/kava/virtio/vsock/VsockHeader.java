package dev.kava.virtio.vsock;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@code struct virtio_vsock_hdr} (virtio 1.2 §5.10.6): 44 bytes, little-endian, packed. Ports,
 * lengths and counters are u32 held in {@code int}s (compare them unsigned).
 */
public record VsockHeader(long srcCid, long dstCid, int srcPort, int dstPort, int len, int type, int op, int flags,
                          int bufAlloc, int fwdCnt) {
    public static final int BYTES = 44;
    /** {@code type}: stream sockets (the only kind offered). */
    public static final int TYPE_STREAM = 1;
    public static final int TYPE_SEQPACKET = 2;
    /** {@code op} values. */
    public static final int OP_INVALID = 0;
    public static final int OP_REQUEST = 1;
    public static final int OP_RESPONSE = 2;
    public static final int OP_RST = 3;
    public static final int OP_SHUTDOWN = 4;
    public static final int OP_RW = 5;
    public static final int OP_CREDIT_UPDATE = 6;
    public static final int OP_CREDIT_REQUEST = 7;
    /** {@code flags} of OP_SHUTDOWN. */
    public static final int SHUTDOWN_RCV = 1;
    public static final int SHUTDOWN_SEND = 2;

    /** Decodes 44 bytes (copied out of guest memory beforehand). */
    public static VsockHeader decode(byte[] b) {
        ByteBuffer h = ByteBuffer.wrap(b, 0, BYTES).order(ByteOrder.LITTLE_ENDIAN);
        return new VsockHeader(h.getLong(0), h.getLong(8), h.getInt(16), h.getInt(20), h.getInt(24),
                h.getShort(28) & 0xffff, h.getShort(30) & 0xffff, h.getInt(32), h.getInt(36), h.getInt(40));
    }

    /** The 44 encoded bytes. */
    public byte[] encode() {
        return ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(srcCid).putLong(dstCid).putInt(srcPort).putInt(dstPort).putInt(len)
                .putShort((short) type).putShort((short) op).putInt(flags).putInt(bufAlloc).putInt(fwdCnt)
                .array();
    }

    /** {@code len} as an unsigned value. */
    public long length() {
        return Integer.toUnsignedLong(len);
    }

    @Override
    public String toString() {
        return "VsockHeader[" + srcCid + ":" + Integer.toUnsignedString(srcPort) + " -> " + dstCid + ":"
                + Integer.toUnsignedString(dstPort) + " op " + op + " len " + length() + " flags " + flags
                + " buf_alloc " + Integer.toUnsignedString(bufAlloc) + " fwd_cnt " + Integer.toUnsignedString(fwdCnt) + "]";
    }
}
