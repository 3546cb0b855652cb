package dev.kava.ttrpc;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Reads frames from a byte stream, with a buffer of its own so that a burst of small frames
 * costs one read. Used by one thread. Checks what a frame says about itself before trusting it:
 * the length against {@link Frame#MAX_DATA_LENGTH} before allocating, the type against the
 * three known ones.
 */
final class FrameReader {
    private static final int BUFFER = 64 * 1024;

    private final InputStream in;
    private final byte[] buf = new byte[BUFFER];
    private int pos;
    private int limit;

    FrameReader(InputStream in) {
        this.in = in;
    }

    /**
     * The next frame, or null on EOF between frames (the peer closed the connection).
     *
     * @throws ProtocolException for a malformed frame or EOF inside one
     */
    Frame read() throws IOException {
        if (!fill(Frame.HEADER_LENGTH, true)) {
            return null;
        }
        long length = Integer.toUnsignedLong(getInt(pos));
        int streamId = getInt(pos + 4);
        byte type = buf[pos + 8];
        byte flags = buf[pos + 9];
        pos += Frame.HEADER_LENGTH;
        if (length > Frame.MAX_DATA_LENGTH) {
            throw new ProtocolException("frame on stream " + Integer.toUnsignedLong(streamId)
                    + " declares " + length + " bytes, over the limit of " + Frame.MAX_DATA_LENGTH);
        }
        if (type != Frame.TYPE_REQUEST && type != Frame.TYPE_RESPONSE && type != Frame.TYPE_DATA) {
            throw new ProtocolException("unknown frame type " + (type & 0xff) + " on stream "
                    + Integer.toUnsignedLong(streamId));
        }
        byte[] data = new byte[(int) length];
        readFully(data);
        return new Frame(streamId, type, flags, data);
    }

    private int getInt(int at) {
        return (buf[at] & 0xff) << 24 | (buf[at + 1] & 0xff) << 16 | (buf[at + 2] & 0xff) << 8
                | (buf[at + 3] & 0xff);
    }

    /** Ensures {@code n <= BUFFER} bytes are buffered; false on clean EOF when allowed. */
    private boolean fill(int n, boolean eofAllowed) throws IOException {
        if (limit - pos >= n) {
            return true;
        }
        System.arraycopy(buf, pos, buf, 0, limit - pos);
        limit -= pos;
        pos = 0;
        while (limit < n) {
            int r = in.read(buf, limit, buf.length - limit);
            if (r < 0) {
                if (eofAllowed && limit == 0) {
                    return false;
                }
                throw new ProtocolException("truncated frame: EOF after " + limit + " of "
                        + n + " bytes", new EOFException());
            }
            limit += r;
        }
        return true;
    }

    private void readFully(byte[] data) throws IOException {
        int have = Math.min(limit - pos, data.length);
        System.arraycopy(buf, pos, data, 0, have);
        pos += have;
        int off = have;
        if (off == data.length) {
            return;
        }
        // The rest is not buffered: large payloads go straight into their array.
        if (data.length - off >= BUFFER) {
            while (off < data.length) {
                int r = in.read(data, off, data.length - off);
                if (r < 0) {
                    throw truncated(off, data.length);
                }
                off += r;
            }
            return;
        }
        int need = data.length - off;
        try {
            fill(need, false);
        } catch (ProtocolException e) {
            throw truncated(off + (limit - pos), data.length);
        }
        System.arraycopy(buf, pos, data, off, need);
        pos += need;
    }

    private static ProtocolException truncated(int got, int want) {
        return new ProtocolException("truncated frame: EOF after " + got + " of " + want
                + " data bytes", new EOFException());
    }
}
