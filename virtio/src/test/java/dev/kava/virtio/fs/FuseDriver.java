package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseKernel.*;
import static dev.kava.virtio.fs.FuseWire.cstr;
import static dev.kava.virtio.fs.FuseWire.struct;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kava.virtio.fs.FuseWire.Attr;
import dev.kava.virtio.fs.FuseWire.Dirent;
import dev.kava.virtio.fs.FuseWire.Entry;
import dev.kava.virtio.fs.FuseWire.Reply;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A simulated guest driver for {@link FuseServer}: serializes requests, cuts them (and the reply
 * buffers) into native segments at random byte boundaries, some of them empty, and decodes the
 * replies. Every reply is checked to report its own length correctly.
 */
final class FuseDriver implements AutoCloseable {
    static final int BIG = 1 << 20;

    final FuseServer server;
    final Random random;
    private long unique = 1;
    int uid;
    int gid;

    FuseDriver(FsConfig config, long seed) {
        this.server = new FuseServer(config);
        this.random = new Random(seed);
    }

    /** {@code data} as 1 to 7 native segments cut at random places, sometimes with empty ones between. */
    List<MemorySegment> split(Arena arena, byte[] data) {
        List<MemorySegment> out = new ArrayList<>();
        int pieces = 1 + random.nextInt(Math.min(7, Math.max(1, data.length)));
        int[] cuts = random.ints(pieces - 1, 0, data.length + 1).sorted().toArray();
        int from = 0;
        for (int k = 0; k <= cuts.length; k++) {
            int to = k < cuts.length ? cuts[k] : data.length;
            MemorySegment s = arena.allocate(Math.max(1, to - from)).asSlice(0, to - from);
            MemorySegment.copy(data, from, s, JAVA_BYTE, 0, to - from);
            out.add(s);
            if (random.nextInt(8) == 0) {
                out.add(arena.allocate(1).asSlice(0, 0));
            }
            from = to;
        }
        return out;
    }

    /** {@code size} writable bytes, cut at random, filled with garbage. */
    List<MemorySegment> outBuffers(Arena arena, int size) {
        byte[] garbage = new byte[size];
        java.util.Arrays.fill(garbage, (byte) 0xA5);
        return split(arena, garbage);
    }

    /** Sends raw request bytes with {@code outSize} bytes of reply buffers. */
    Reply send(byte[] request, int outSize) {
        try (Arena arena = Arena.ofConfined()) {
            List<MemorySegment> out = outBuffers(arena, outSize);
            return read(server.handle(split(arena, request), out), out);
        }
    }

    /** The next request's unique (for hand-built requests). */
    long nextUnique() {
        return unique++;
    }

    Reply call(int opcode, long nodeid, int outSize, byte[]... parts) {
        byte[] req = FuseWire.request(opcode, unique++, nodeid, uid, gid, parts);
        try (Arena arena = Arena.ofConfined()) {
            List<MemorySegment> out = outBuffers(arena, outSize);
            int n = server.handle(split(arena, req), out);
            return read(n, out);
        }
    }

    /** Decodes the first {@code n} bytes of {@code out} as a reply (n == 0: no reply). */
    static Reply read(int n, List<MemorySegment> out) {
        byte[] bytes = new byte[n];
        int pos = 0;
        for (MemorySegment s : out) {
            int k = (int) Math.min(s.byteSize(), n - pos);
            MemorySegment.copy(s, JAVA_BYTE, 0, bytes, pos, k);
            pos += k;
            if (pos == n) {
                break;
            }
        }
        if (n == 0) {
            return new Reply(0, 0, 0, 0, ByteBuffer.allocate(0));
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        Reply r = new Reply(n, b.getInt(0), b.getInt(4), b.getLong(8),
                b.slice(FuseWire.OUT_HEADER, n - FuseWire.OUT_HEADER).order(ByteOrder.LITTLE_ENDIAN));
        assertEquals(n, r.len(), "fuse_out_header.len must equal the bytes written");
        return r;
    }

    long lastUnique() {
        return unique - 1;
    }

    static Reply ok(Reply r) {
        assertEquals(0, r.error(), "reply error " + r.error());
        return r;
    }

    // ---- typed requests ------------------------------------------------------------------

    Reply init(int minor, int flags) {
        return call(FUSE_INIT, 0, 16 + 64, struct(64, b -> b.putInt(7).putInt(minor).putInt(128 * 1024).putInt(flags)));
    }

    Reply init() {
        return ok(init(36, -1));
    }

    Reply lookupReply(long parent, String name) {
        return call(FUSE_LOOKUP, parent, BIG, cstr(name));
    }

    Entry lookup(long parent, String name) {
        return Entry.at(ok(lookupReply(parent, name)).payload(), 0);
    }

    Reply getattrReply(long nodeid) {
        return call(FUSE_GETATTR, nodeid, BIG, struct(16, b -> { }));
    }

    Attr getattr(long nodeid) {
        return Attr.at(ok(getattrReply(nodeid)).payload(), 16);
    }

    Reply mkdirReply(long parent, String name, int mode) {
        return call(FUSE_MKDIR, parent, BIG, struct(8, b -> b.putInt(mode).putInt(0)), cstr(name));
    }

    Entry mkdir(long parent, String name, int mode) {
        return Entry.at(ok(mkdirReply(parent, name, mode)).payload(), 0);
    }

    Reply mknodReply(long parent, String name, int mode, int rdev) {
        return call(FUSE_MKNOD, parent, BIG, struct(16, b -> b.putInt(mode).putInt(rdev).putInt(0).putInt(0)), cstr(name));
    }

    Reply symlinkReply(long parent, String name, String target) {
        return call(FUSE_SYMLINK, parent, BIG, cstr(name), cstr(target));
    }

    Entry symlink(long parent, String name, String target) {
        return Entry.at(ok(symlinkReply(parent, name, target)).payload(), 0);
    }

    record Created(Entry entry, long fh, int openFlags) {}

    Reply createReply(long parent, String name, int flags, int mode) {
        return call(FUSE_CREATE, parent, BIG, struct(16, b -> b.putInt(flags).putInt(mode).putInt(0).putInt(0)), cstr(name));
    }

    Created create(long parent, String name, int flags, int mode) {
        ByteBuffer p = ok(createReply(parent, name, flags, mode)).payload();
        return new Created(Entry.at(p, 0), p.getLong(128), p.getInt(136));
    }

    Reply openReply(long nodeid, int flags) {
        return call(FUSE_OPEN, nodeid, BIG, struct(8, b -> b.putInt(flags).putInt(0)));
    }

    long open(long nodeid, int flags) {
        return ok(openReply(nodeid, flags)).payload().getLong(0);
    }

    Reply readReply(long fh, long offset, int size, int outSize) {
        return call(FUSE_READ, 0, outSize, struct(40, b -> b.putLong(fh).putLong(offset).putInt(size)));
    }

    byte[] read(long fh, long offset, int size) {
        return ok(readReply(fh, offset, size, 16 + size)).payloadBytes();
    }

    Reply writeReply(long fh, long offset, byte[] data) {
        return call(FUSE_WRITE, 0, BIG, struct(40, b -> b.putLong(fh).putLong(offset).putInt(data.length)), data);
    }

    int write(long fh, long offset, byte[] data) {
        return ok(writeReply(fh, offset, data)).payload().getInt(0);
    }

    Reply releaseReply(long fh) {
        return call(FUSE_RELEASE, 0, BIG, struct(24, b -> b.putLong(fh)));
    }

    long opendir(long nodeid) {
        return ok(call(FUSE_OPENDIR, nodeid, BIG, struct(8, b -> { }))).payload().getLong(0);
    }

    Reply readdirReply(long fh, long offset, int size, boolean plus) {
        return call(plus ? FUSE_READDIRPLUS : FUSE_READDIR, 0, 16 + size,
                struct(40, b -> b.putLong(fh).putLong(offset).putInt(size)));
    }

    List<Dirent> readdir(long fh, long offset, int size, boolean plus) {
        return dirents(ok(readdirReply(fh, offset, size, plus)).payload(), plus);
    }

    /** Decodes a READDIR(PLUS) payload, checking the 8-byte record alignment. */
    static List<Dirent> dirents(ByteBuffer p, boolean plus) {
        List<Dirent> out = new ArrayList<>();
        int pos = 0;
        while (pos < p.limit()) {
            Entry e = plus ? Entry.at(p, pos) : null;
            int d = pos + (plus ? 128 : 0);
            int namelen = p.getInt(d + 16);
            byte[] name = new byte[namelen];
            p.get(d + 24, name);
            int rec = ((plus ? 152 : 24) + namelen + 7) & ~7;
            out.add(new Dirent(e, p.getLong(d), p.getLong(d + 8), p.getInt(d + 20),
                    new String(name, StandardCharsets.UTF_8), rec));
            pos += rec;
        }
        assertEquals(p.limit(), pos, "records must fill the payload exactly");
        return out;
    }

    Reply releasedirReply(long fh) {
        return call(FUSE_RELEASEDIR, 0, BIG, struct(24, b -> b.putLong(fh)));
    }

    void forget(long nodeid, long n) {
        assertEquals(0, call(FUSE_FORGET, nodeid, 0, struct(8, b -> b.putLong(n))).length());
    }

    Reply setattrReply(long nodeid, int valid, java.util.function.Consumer<ByteBuffer> fields) {
        return call(FUSE_SETATTR, nodeid, BIG, struct(88, b -> {
            fields.accept(b);
            b.putInt(0, valid);
        }));
    }

    Attr setattr(long nodeid, int valid, java.util.function.Consumer<ByteBuffer> fields) {
        return Attr.at(ok(setattrReply(nodeid, valid, fields)).payload(), 16);
    }

    @Override
    public void close() {
        server.close();
    }
}
