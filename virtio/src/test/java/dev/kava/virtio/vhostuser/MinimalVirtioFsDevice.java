package dev.kava.virtio.vhostuser;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.queue.DescriptorChain;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Just enough of a virtio-fs device (virtio 1.2 §5.11, device id 26) for a Linux guest to mount
 * it: answers FUSE_INIT with a valid {@code fuse_init_out}, GETATTR of the root (nodeid 1) with a
 * directory, and ENOSYS to everything else. Queue 0 is the hiprio queue (FORGET, INTERRUPT),
 * queue 1 the one request queue. A test stand-in, not the file server (that is
 * {@code dev.kava.virtio.fs}).
 */
final class MinimalVirtioFsDevice implements VhostUserDevice {
    static final int FUSE_GETATTR = 3;
    static final int FUSE_INIT = 26;
    static final int IN_HEADER = 40;
    static final int OUT_HEADER = 16;
    private static final int ENOSYS = 38;
    private static final int S_IFDIR = 0040000;

    /** A request's {@code fuse_in_header}, as the guest sent it. */
    record InHeader(int len, int opcode, long unique, long nodeid, int uid, int gid, int pid) {}

    /** FUSE_INIT's {@code fuse_init_in}. */
    record InitIn(int major, int minor, int maxReadahead, int flags) {}

    private final String tag;
    final List<InHeader> requests = new CopyOnWriteArrayList<>();
    final List<InitIn> inits = new CopyOnWriteArrayList<>();
    final List<Integer> queuesHandled = new CopyOnWriteArrayList<>();
    final List<GuestMemory.Region> regionsSeen = new CopyOnWriteArrayList<>();
    volatile long acknowledged;

    MinimalVirtioFsDevice(String tag) {
        this.tag = tag;
    }

    @Override
    public long features() {
        return 0; // VIRTIO_FS_F_NOTIFICATION (bit 0) is not offered
    }

    @Override
    public long protocolFeatures() {
        return 0;
    }

    @Override
    public int numQueues() {
        return 2;
    }

    @Override
    public int maxQueueSize() {
        return 1024;
    }

    /** {@code struct virtio_fs_config}: tag[36] (NUL-padded), num_request_queues, notify_buf_size. */
    @Override
    public byte[] config() {
        ByteBuffer b = ByteBuffer.allocate(44).order(ByteOrder.LITTLE_ENDIAN);
        byte[] t = tag.getBytes(StandardCharsets.UTF_8);
        b.put(t, 0, Math.min(36, t.length)).position(36);
        b.putInt(1).putInt(0);
        return b.array();
    }

    @Override
    public void acknowledgeFeatures(long features) {
        acknowledged = features;
    }

    @Override
    public void handleQueue(int index, Virtqueue queue, GuestMemory memory) throws VirtqueueException {
        queuesHandled.add(index);
        if (regionsSeen.isEmpty()) {
            regionsSeen.addAll(memory.regions());
        }
        DescriptorChain c;
        while ((c = queue.pop(memory)) != null) {
            int written = index == 0 ? 0 : answer(c);
            queue.addUsed(memory, c.head(), written);
        }
    }

    /** Handles one FUSE request; returns the bytes written. */
    private int answer(DescriptorChain c) {
        byte[] in = gather(c.readable(), (int) Math.min(c.readableLength(), 4096));
        if (in.length < IN_HEADER) {
            return 0;
        }
        ByteBuffer h = ByteBuffer.wrap(in).order(ByteOrder.LITTLE_ENDIAN);
        InHeader header = new InHeader(h.getInt(), h.getInt(), h.getLong(), h.getLong(), h.getInt(), h.getInt(), h.getInt());
        requests.add(header);
        ByteBuffer out;
        switch (header.opcode()) {
            case FUSE_INIT -> {
                h.position(IN_HEADER);
                InitIn init = new InitIn(h.getInt(), h.getInt(), h.getInt(), h.getInt());
                inits.add(init);
                out = reply(header, 64);
                out.putInt(7).putInt(Math.min(init.minor(), 31)) // major, minor
                        .putInt(init.maxReadahead()).putInt(0)      // max_readahead, flags
                        .putShort((short) 0).putShort((short) 0)    // max_background, congestion_threshold
                        .putInt(128 * 1024).putInt(1)               // max_write, time_gran
                        .putShort((short) 0).putShort((short) 0)    // max_pages, map_alignment
                        .putInt(0);                                 // flags2, unused[7] follow as zeros
            }
            case FUSE_GETATTR -> {
                if (header.nodeid() != 1) {
                    out = error(header, 2); // ENOENT
                    break;
                }
                out = reply(header, 104);
                out.putLong(1).putInt(0).putInt(0);                 // attr_valid, attr_valid_nsec, dummy
                out.putLong(1).putLong(0).putLong(0);               // ino, size, blocks
                out.putLong(0).putLong(0).putLong(0);               // atime, mtime, ctime
                out.putInt(0).putInt(0).putInt(0);                  // *timensec
                out.putInt(S_IFDIR | 0755).putInt(2);               // mode, nlink
                out.putInt(0).putInt(0).putInt(0).putInt(4096);     // uid, gid, rdev, blksize
            }
            default -> out = error(header, ENOSYS);
        }
        return scatter(out.array(), c.writable());
    }

    private static ByteBuffer reply(InHeader header, int argBytes) {
        ByteBuffer b = ByteBuffer.allocate(OUT_HEADER + argBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(OUT_HEADER + argBytes).putInt(0).putLong(header.unique());
        return b;
    }

    private static ByteBuffer error(InHeader header, int errno) {
        ByteBuffer b = ByteBuffer.allocate(OUT_HEADER).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(OUT_HEADER).putInt(-errno).putLong(header.unique());
        return b;
    }

    private static byte[] gather(List<MemorySegment> segments, int max) {
        byte[] out = new byte[max];
        int at = 0;
        for (MemorySegment s : segments) {
            int n = (int) Math.min(s.byteSize(), max - at);
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, out, at, n);
            at += n;
            if (at == max) {
                break;
            }
        }
        return out;
    }

    private static int scatter(byte[] data, List<MemorySegment> segments) {
        int at = 0;
        for (MemorySegment s : segments) {
            int n = (int) Math.min(s.byteSize(), data.length - at);
            MemorySegment.copy(data, at, s, ValueLayout.JAVA_BYTE, 0, n);
            at += n;
            if (at == data.length) {
                break;
            }
        }
        return at;
    }

    @Override
    public void reset() {
    }
}
