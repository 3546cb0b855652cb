package dev.kava.virtio.fs;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Test-side FUSE encoding, written from {@code <linux/fuse.h>} independently of the server's own
 * constants: request bytes (header + parts) and reply decoding.
 */
final class FuseWire {
    private FuseWire() {}

    static final int IN_HEADER = 40;
    static final int OUT_HEADER = 16;
    static final int ENTRY_OUT = 128;
    static final int ATTR_OUT = 104;

    /** A whole request: {@code fuse_in_header} with len = 40 + parts, then the parts. */
    static byte[] request(int opcode, long unique, long nodeid, int uid, int gid, byte[]... parts) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            body.writeBytes(p);
        }
        ByteBuffer h = le(IN_HEADER);
        h.putInt(IN_HEADER + body.size()).putInt(opcode).putLong(unique).putLong(nodeid)
                .putInt(uid).putInt(gid).putInt(4242).putInt(0);
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.writeBytes(h.array());
        all.writeBytes(body.toByteArray());
        return all.toByteArray();
    }

    /** An op struct of {@code size} bytes filled by {@code fill}. */
    static byte[] struct(int size, Consumer<ByteBuffer> fill) {
        ByteBuffer b = le(size);
        fill.accept(b);
        return b.array();
    }

    /** A NUL-terminated string. */
    static byte[] cstr(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[b.length + 1];
        System.arraycopy(b, 0, out, 0, b.length);
        return out;
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A decoded reply: header fields and the payload after it. */
    record Reply(int length, int len, int error, long unique, ByteBuffer payload) {
        int payloadSize() {
            return payload.remaining();
        }

        byte[] payloadBytes() {
            byte[] b = new byte[payload.remaining()];
            payload.duplicate().get(b);
            return b;
        }
    }

    /** {@code struct fuse_attr} decoded. */
    record Attr(long ino, long size, long blocks, long atime, long mtime, long ctime, int atimensec, int mtimensec,
                int ctimensec, int mode, int nlink, int uid, int gid, int rdev, int blksize) {
        static Attr at(ByteBuffer b, int off) {
            return new Attr(b.getLong(off), b.getLong(off + 8), b.getLong(off + 16), b.getLong(off + 24),
                    b.getLong(off + 32), b.getLong(off + 40), b.getInt(off + 48), b.getInt(off + 52),
                    b.getInt(off + 56), b.getInt(off + 60), b.getInt(off + 64), b.getInt(off + 68),
                    b.getInt(off + 72), b.getInt(off + 76), b.getInt(off + 80));
        }

        int type() {
            return mode & 0170000;
        }
    }

    /** {@code struct fuse_entry_out} decoded. */
    record Entry(long nodeid, long generation, long entryValid, long attrValid, Attr attr) {
        static Entry at(ByteBuffer b, int off) {
            return new Entry(b.getLong(off), b.getLong(off + 8), b.getLong(off + 16), b.getLong(off + 24),
                    Attr.at(b, off + 40));
        }
    }

    /** One {@code fuse_dirent} (with its entry for READDIRPLUS) decoded. */
    record Dirent(Entry entry, long ino, long off, int type, String name, int recordLength) {}
}
