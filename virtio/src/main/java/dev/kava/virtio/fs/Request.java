package dev.kava.virtio.fs;

import dev.kava.linux.Errno;
import dev.kava.linux.FileSystem;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One FUSE request: the {@code fuse_in_header} and a cursor over the rest. Every field is copied
 * out of guest memory once, when read, so a guest changing its buffers meanwhile cannot make the
 * server see two different values (no time-of-check / time-of-use gap); only bulk data (WRITE
 * payloads) is used in place. Nothing read here is trusted: lengths are bounded by the buffers
 * actually present, names by {@link FuseKernel#NAME_MAX}.
 */
final class Request {
    final int opcode;
    final long unique;
    final long nodeid;
    final int uid;
    final int gid;
    final int pid;
    private final IoVector body;
    private long pos;

    private Request(int opcode, long unique, long nodeid, int uid, int gid, int pid, IoVector body) {
        this.opcode = opcode;
        this.unique = unique;
        this.nodeid = nodeid;
        this.uid = uid;
        this.gid = gid;
        this.pid = pid;
        this.body = body;
    }

    /**
     * Reads the header. The request is {@code header.len} bytes, which must lie within the readable
     * buffers (bytes past it are ignored); a shorter header or a length beyond the buffers is
     * EINVAL, reported with whatever {@code unique} could be read.
     */
    static Request parse(IoVector in) {
        if (in.size() < FuseKernel.IN_HEADER_SIZE) {
            throw new FuseError(Errno.EINVAL);
        }
        byte[] h = new byte[FuseKernel.IN_HEADER_SIZE];
        in.read(0, h, 0, h.length);
        ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        long len = Integer.toUnsignedLong(b.getInt(0));
        return new Request(b.getInt(4), b.getLong(8), b.getLong(16), b.getInt(24), b.getInt(28), b.getInt(32),
                len >= FuseKernel.IN_HEADER_SIZE && len <= in.size()
                        ? in.slice(FuseKernel.IN_HEADER_SIZE, len - FuseKernel.IN_HEADER_SIZE)
                        : null);
    }

    /** Whether {@code header.len} was consistent with the buffers; if not, only {@link #unique} may be used. */
    boolean wellFormed() {
        return body != null;
    }

    /** Unread bytes of the request. */
    long remaining() {
        return body.size() - pos;
    }

    /** The next {@code size} bytes (an op struct) as a little-endian buffer; EINVAL if truncated. */
    ByteBuffer struct(int size) {
        if (remaining() < size) {
            throw new FuseError(Errno.EINVAL);
        }
        byte[] s = new byte[size];
        body.read(pos, s, 0, size);
        pos += size;
        return ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The next NUL-terminated string of at most {@code max} bytes before its NUL, without the NUL:
     * EINVAL without a NUL within the request, {@code tooLong} when longer than {@code max}.
     */
    byte[] string(int max, int tooLong) {
        long nul = body.indexOf((byte) 0, pos, pos + max + 1L);
        if (nul < 0) {
            throw new FuseError(remaining() > max ? tooLong : Errno.EINVAL);
        }
        byte[] s = new byte[(int) (nul - pos)];
        body.read(pos, s, 0, s.length);
        pos = nul + 1;
        return s;
    }

    /**
     * The next entry name: one path component, never empty, ".", ".." or containing '/'
     * (EINVAL), at most {@link FuseKernel#NAME_MAX} bytes (ENAMETOOLONG).
     */
    byte[] name() {
        byte[] n = string(FuseKernel.NAME_MAX, Errno.ENAMETOOLONG);
        if (!FileSystem.isSingleComponent(n)) {
            throw new FuseError(Errno.EINVAL);
        }
        return n;
    }

    /** The next {@code length} bytes in place (no copy); EINVAL if the request is shorter. */
    IoVector data(long length) {
        if (length < 0 || remaining() < length) {
            throw new FuseError(Errno.EINVAL);
        }
        IoVector d = body.slice(pos, length);
        pos += length;
        return d;
    }
}
