package dev.kava.ttrpc;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;

/**
 * One ttrpc message frame: a 10-byte header (uint32 data length, uint32 stream id, uint8 type,
 * uint8 flags, all big-endian) and its data.
 */
record Frame(int streamId, byte type, byte flags, byte[] data) {

    static final int HEADER_LENGTH = 10;
    /** The largest data length a frame may carry: 4 MiB, as containerd's ttrpc. */
    static final int MAX_DATA_LENGTH = 4 << 20;

    static final byte TYPE_REQUEST = 1;
    static final byte TYPE_RESPONSE = 2;
    static final byte TYPE_DATA = 3;

    /** Request: non-unary, no more data from the sender. Data: the sender's last message. */
    static final byte FLAG_REMOTE_CLOSED = 0x1;
    /** Request: non-unary, the sender will send data frames. */
    static final byte FLAG_REMOTE_OPEN = 0x2;
    /** Data: the frame carries no message (e.g. a bare close). */
    static final byte FLAG_NO_DATA = 0x4;

    /**
     * Parses this frame's data as an envelope whose bytes fields alias the frame's array
     * instead of copying it (the array is never written after it was read).
     */
    <T> T parse(Parser<T> parser) throws InvalidProtocolBufferException {
        CodedInputStream in = CodedInputStream.newInstance(data);
        in.enableAliasing(true);
        T message = parser.parseFrom(in);
        in.checkLastTagWas(0);
        return message;
    }

    boolean has(byte flag) {
        return (flags & flag) != 0;
    }

    /** The stream id as the unsigned number on the wire. */
    long unsignedId() {
        return Integer.toUnsignedLong(streamId);
    }

    static String typeName(byte type) {
        return switch (type) {
            case TYPE_REQUEST -> "request";
            case TYPE_RESPONSE -> "response";
            case TYPE_DATA -> "data";
            default -> "type " + (type & 0xff);
        };
    }

    @Override
    public String toString() {
        return "Frame[stream " + unsignedId() + ", " + typeName(type) + ", flags 0x"
                + Integer.toHexString(flags & 0xff) + ", " + data.length + " bytes]";
    }
}
