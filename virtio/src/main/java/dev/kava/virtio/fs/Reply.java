package dev.kava.virtio.fs;

import dev.kava.linux.Errno;
import dev.kava.linux.FileStat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Writes one reply, {@code fuse_out_header} plus payload, into the guest's writable buffers and
 * returns its length. A reply larger than the buffers becomes ERANGE if the header fits, else
 * nothing at all (0 bytes); handlers check {@link #require} before acting, so an answer that
 * cannot be delivered is never one whose side effects (a lookup count, an open file) the guest
 * would not learn about.
 */
final class Reply {
    private final IoVector out;
    private final long unique;

    Reply(IoVector out, long unique) {
        this.out = out;
        this.unique = unique;
    }

    /** Payload bytes that fit after the header (negative if not even the header fits). */
    long capacity() {
        return out.size() - FuseKernel.OUT_HEADER_SIZE;
    }

    /** Fails with ERANGE unless a payload of {@code size} bytes fits. */
    void require(long size) {
        if (capacity() < size) {
            throw new FuseError(Errno.ERANGE);
        }
    }

    /** An error reply: just the header with {@code -errno}. */
    int error(int errno) {
        if (out.size() < FuseKernel.OUT_HEADER_SIZE) {
            return 0;
        }
        header(FuseKernel.OUT_HEADER_SIZE, -errno);
        return FuseKernel.OUT_HEADER_SIZE;
    }

    /** A success without payload. */
    int ok() {
        return send(null, 0);
    }

    /** A success with the first {@code length} bytes of {@code payload}. */
    int send(byte[] payload, int length) {
        if (capacity() < length) {
            return error(Errno.ERANGE);
        }
        if (length > 0) {
            out.write(FuseKernel.OUT_HEADER_SIZE, payload, 0, length);
        }
        header(FuseKernel.OUT_HEADER_SIZE + length, 0);
        return FuseKernel.OUT_HEADER_SIZE + length;
    }

    /** A success with the bytes written so far into {@link #payload}. */
    int send(ByteBuffer payload) {
        return send(payload.array(), payload.position());
    }

    /** The writable area for {@code length} payload bytes, filled in place (READ). */
    IoVector payloadArea(long length) {
        return out.slice(FuseKernel.OUT_HEADER_SIZE, length);
    }

    /** A success whose {@code length} payload bytes are already in {@link #payloadArea}. */
    int sendInPlace(long length) {
        header(FuseKernel.OUT_HEADER_SIZE + length, 0);
        return (int) (FuseKernel.OUT_HEADER_SIZE + length);
    }

    private void header(long length, int error) {
        byte[] h = new byte[FuseKernel.OUT_HEADER_SIZE];
        ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt((int) length).putInt(error).putLong(unique);
        out.write(0, h, 0, h.length);
    }

    /** A little-endian buffer for a payload of at most {@code size} bytes. */
    static ByteBuffer payload(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** {@code struct fuse_attr} of {@code st}. */
    static void putAttr(ByteBuffer b, FileStat st) {
        b.putLong(st.ino()).putLong(st.size()).putLong(st.blocks())
                .putLong(st.atimeSec()).putLong(st.mtimeSec()).putLong(st.ctimeSec())
                .putInt((int) st.atimeNsec()).putInt((int) st.mtimeNsec()).putInt((int) st.ctimeNsec())
                .putInt(st.mode())
                .putInt((int) Math.min(st.nlink(), 0xffffffffL))
                .putInt(st.uid()).putInt(st.gid())
                .putInt(encodeDev(FileStat.major(st.rdev()), FileStat.minor(st.rdev())))
                .putInt((int) Math.min(st.blksize(), Integer.MAX_VALUE))
                .putInt(0); // flags: no FUSE_ATTR_SUBMOUNT (submounts are not announced), no DAX
    }

    /** {@code struct fuse_entry_out}; {@code st == null} writes a zero entry (nodeid 0: "no entry"). */
    static void putEntry(ByteBuffer b, long nodeid, FileStat st, CacheMode cache) {
        if (st == null) {
            b.put(new byte[FuseKernel.ENTRY_OUT_SIZE]);
            return;
        }
        b.putLong(nodeid).putLong(0) // generation: nodeids are never reused
                .putLong(cache.timeoutSeconds()).putLong(cache.timeoutSeconds())
                .putInt(0).putInt(0);
        putAttr(b, st);
    }

    /** {@code struct fuse_attr_out}. */
    static void putAttrOut(ByteBuffer b, FileStat st, CacheMode cache) {
        b.putLong(cache.timeoutSeconds()).putInt(0).putInt(0);
        putAttr(b, st);
    }

    /** The kernel's {@code new_encode_dev}: the 32-bit device numbers of {@code fuse_attr.rdev}. */
    static int encodeDev(int major, int minor) {
        return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
    }

    /** The kernel's {@code new_decode_dev}, as a glibc {@code dev_t}. */
    static long decodeDev(int dev) {
        int major = (dev & 0xfff00) >>> 8;
        int minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
        return FileStat.makedev(major, minor);
    }
}
