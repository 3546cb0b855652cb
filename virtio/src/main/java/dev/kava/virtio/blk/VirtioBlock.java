package dev.kava.virtio.blk;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.FileIo;
import dev.kava.linux.LinuxException;
import dev.kava.linux.OpenFlags;
import dev.kava.virtio.device.ActiveQueue;
import dev.kava.virtio.device.Buffers;
import dev.kava.virtio.device.DeviceContext;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.device.Features;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.queue.DescriptorChain;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * virtio-blk (virtio 1.2 §5.2) backed by a file or block device: read, write, flush, GET_ID,
 * discard and write-zeroes, one request queue.
 *
 * <h2>Requests</h2>
 * A request is a 16-byte header (type, reserved, sector) in the readable part, data (readable for
 * writes and discard/write-zeroes segments, writable for reads and GET_ID), and a status byte,
 * the last writable byte. Data moves between the file and guest memory directly
 * ({@code preadv}/{@code pwritev} on the chain's segments), never through a host copy.
 *
 * <h2>The guest is hostile</h2>
 * The header is copied out once before it is looked at. Every request is checked before the file
 * is touched: data lengths must be whole 512-byte sectors and fit the capacity (no overflow:
 * sectors are compared, not multiplied), discard/write-zeroes segments are bounded in number
 * ({@link #MAX_DISCARD_SEGMENTS}) and size and must have no unknown flags. Answers, per the spec:
 * IOERR for a request outside the disk, a misaligned length, a write to a read-only disk or a
 * failed host call; UNSUPP for an unknown type or an operation not negotiated; a chain without a
 * writable status byte or too short for its header gets used length 0 (nothing can be reported
 * in it). Nothing the guest writes sizes a host allocation.
 */
public final class VirtioBlock implements VirtioDevice {
    /** Request types. */
    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int T_GET_LIFETIME = 10;
    public static final int T_DISCARD = 11;
    public static final int T_WRITE_ZEROES = 13;
    public static final int T_SECURE_ERASE = 14;
    /** Status values. */
    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;
    /** Feature bits. */
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;
    /** Flag of a write-zeroes segment: the range may be deallocated. */
    public static final int WRITE_ZEROES_FLAG_UNMAP = 1;
    public static final int SECTOR_SIZE = 512;
    public static final int QUEUE_SIZE = 256;
    /** Segments one discard or write-zeroes request may carry. */
    public static final int MAX_DISCARD_SEGMENTS = 16;
    /** Sectors one discard or write-zeroes segment may cover (2 GiB). */
    public static final int MAX_DISCARD_SECTORS = 1 << 22;
    /** struct virtio_blk_config up to write_zeroes_may_unmap and its padding. */
    public static final int CONFIG_SIZE = 60;
    static final int HEADER_BYTES = 16;
    static final int SEGMENT_BYTES = 16;
    private static final int ZERO_CHUNK = 64 * 1024;

    private final BlockConfig config;
    private final Fd file;
    private final long capacitySectors;
    private ActiveQueue queue;
    private long features;
    private long requests;
    private long errors;

    /** Opens the back-end (read-write unless read-only); throws {@link LinuxException} when it cannot. */
    public VirtioBlock(BlockConfig config) {
        this.config = config;
        int flags = (config.readOnly() ? OpenFlags.O_RDONLY : OpenFlags.O_RDWR) | OpenFlags.O_CLOEXEC;
        this.file = Fd.open(config.path().toString(), flags, 0);
        try {
            long size = FileIo.lseek(file, 0, FileIo.SEEK_END);
            this.capacitySectors = size / SECTOR_SIZE;
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public BlockConfig config() {
        return config;
    }

    /** The disk's size in 512-byte sectors (a partial last sector is not part of the disk). */
    public long capacitySectors() {
        return capacitySectors;
    }

    @Override
    public DeviceType type() {
        return DeviceType.BLOCK;
    }

    @Override
    public long deviceFeatures() {
        long f = Features.bit(F_SEG_MAX) | Features.bit(F_BLK_SIZE) | Features.bit(F_FLUSH);
        if (config.readOnly()) {
            f |= Features.bit(F_RO);
        } else {
            f |= Features.bit(F_DISCARD) | Features.bit(F_WRITE_ZEROES);
        }
        return f;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int maxQueueSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public void readConfig(int offset, byte[] dst) {
        ByteBuffer b = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, capacitySectors);        // capacity
        b.putInt(8, 0);                       // size_max (F_SIZE_MAX not offered)
        b.putInt(12, QUEUE_SIZE - 2);         // seg_max: a chain also holds header and status
        b.putInt(20, SECTOR_SIZE);            // blk_size
        b.putShort(34, (short) 1);            // num_queues
        b.putInt(36, MAX_DISCARD_SECTORS);    // max_discard_sectors
        b.putInt(40, MAX_DISCARD_SEGMENTS);   // max_discard_seg
        b.putInt(44, 1);                      // discard_sector_alignment
        b.putInt(48, MAX_DISCARD_SECTORS);    // max_write_zeroes_sectors
        b.putInt(52, MAX_DISCARD_SEGMENTS);   // max_write_zeroes_seg
        b.put(56, (byte) 1);                  // write_zeroes_may_unmap
        System.arraycopy(b.array(), offset, dst, 0, dst.length);
    }

    @Override
    public void writeConfig(int offset, byte[] src) {
        // writeback (offset 32) needs VIRTIO_BLK_F_CONFIG_WCE, not offered: every field is read-only
    }

    @Override
    public boolean acceptsFeatures(long features) {
        return true;
    }

    @Override
    public void activate(DeviceContext context) {
        this.queue = context.queue(0);
        this.features = context.features();
    }

    @Override
    public void queueNotify(int index) {
        ActiveQueue q = queue;
        if (q == null || index != 0) {
            return;
        }
        DescriptorChain chain;
        while ((chain = q.pop()) != null) {
            requests++;
            q.complete(chain, handle(chain));
        }
        q.notifyDriver();
    }

    /** Handles one request; returns the bytes written into the chain (data and status). */
    long handle(DescriptorChain chain) {
        if (chain.writableLength() == 0) {
            errors++;
            return 0; // no status byte: nothing can be reported
        }
        List<MemorySegment> writable = chain.writable();
        long statusAt = chain.writableLength() - 1;
        List<MemorySegment> status = Buffers.slice(writable, statusAt, 1);
        List<MemorySegment> dataOut = Buffers.slice(writable, 0, statusAt);
        if (chain.readableLength() < HEADER_BYTES) {
            return finish(status, S_IOERR, 0);
        }
        byte[] header = new byte[HEADER_BYTES];
        Buffers.read(chain.readable(), 0, header);
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        int type = h.getInt(0);
        long sector = h.getLong(8);
        List<MemorySegment> dataIn = Buffers.slice(chain.readable(), HEADER_BYTES, chain.readableLength() - HEADER_BYTES);
        return switch (type) {
            case T_IN -> read(sector, dataOut, status);
            case T_OUT -> write(sector, dataIn, status);
            case T_FLUSH -> flush(status);
            case T_GET_ID -> getId(dataOut, status);
            case T_DISCARD -> discard(dataIn, status, false);
            case T_WRITE_ZEROES -> discard(dataIn, status, true);
            default -> finish(status, S_UNSUPP, 0);
        };
    }

    private long read(long sector, List<MemorySegment> data, List<MemorySegment> status) {
        long len = Buffers.length(data);
        if (!inRange(sector, len)) {
            return finish(status, S_IOERR, 0);
        }
        try {
            long n = len == 0 ? 0 : FileIo.preadv(file, data, sector * SECTOR_SIZE);
            if (n < len) {
                return finish(status, S_IOERR, n); // the file shrank under us
            }
            return finish(status, S_OK, len);
        } catch (LinuxException e) {
            return finish(status, S_IOERR, 0);
        }
    }

    private long write(long sector, List<MemorySegment> data, List<MemorySegment> status) {
        if (config.readOnly()) {
            return finish(status, S_IOERR, 0);
        }
        long len = Buffers.length(data);
        if (!inRange(sector, len)) {
            return finish(status, S_IOERR, 0);
        }
        try {
            long n = len == 0 ? 0 : FileIo.pwritev(file, data, sector * SECTOR_SIZE);
            return finish(status, n == len ? S_OK : S_IOERR, 0);
        } catch (LinuxException e) {
            return finish(status, S_IOERR, 0);
        }
    }

    private long flush(List<MemorySegment> status) {
        try {
            if (!config.readOnly()) {
                FileIo.fsync(file, true);
            }
            return finish(status, S_OK, 0);
        } catch (LinuxException e) {
            return finish(status, S_IOERR, 0);
        }
    }

    private long getId(List<MemorySegment> data, List<MemorySegment> status) {
        byte[] id = new byte[BlockConfig.ID_BYTES]; // NUL-padded; no NUL when exactly 20 bytes
        byte[] serial = config.serial().getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(serial, 0, id, 0, serial.length);
        int n = Buffers.write(data, 0, id, 0, id.length);
        return finish(status, S_OK, n);
    }

    private long discard(List<MemorySegment> segments, List<MemorySegment> status, boolean zeroes) {
        int feature = zeroes ? F_WRITE_ZEROES : F_DISCARD;
        if (config.readOnly() || !Features.has(features, feature)) {
            return finish(status, S_UNSUPP, 0);
        }
        long bytes = Buffers.length(segments);
        if (bytes == 0 || bytes % SEGMENT_BYTES != 0 || bytes / SEGMENT_BYTES > MAX_DISCARD_SEGMENTS) {
            return finish(status, S_UNSUPP, 0);
        }
        int count = (int) (bytes / SEGMENT_BYTES);
        byte[] raw = new byte[count * SEGMENT_BYTES];
        Buffers.read(segments, 0, raw); // copied once, then checked, then used
        ByteBuffer s = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        int allowedFlags = zeroes ? WRITE_ZEROES_FLAG_UNMAP : 0;
        for (int i = 0; i < count; i++) {
            long sector = s.getLong(i * SEGMENT_BYTES);
            long sectors = Integer.toUnsignedLong(s.getInt(i * SEGMENT_BYTES + 8));
            int flags = s.getInt(i * SEGMENT_BYTES + 12);
            if ((flags & ~allowedFlags) != 0) {
                return finish(status, S_UNSUPP, 0);
            }
            if (sectors > MAX_DISCARD_SECTORS || !inRange(sector, sectors * SECTOR_SIZE)) {
                return finish(status, S_IOERR, 0);
            }
        }
        try {
            for (int i = 0; i < count; i++) {
                long offset = s.getLong(i * SEGMENT_BYTES) * SECTOR_SIZE;
                long length = Integer.toUnsignedLong(s.getInt(i * SEGMENT_BYTES + 8)) * SECTOR_SIZE;
                boolean unmap = (s.getInt(i * SEGMENT_BYTES + 12) & WRITE_ZEROES_FLAG_UNMAP) != 0;
                if (length == 0) {
                    continue;
                }
                if (!zeroes) {
                    punch(offset, length, true);
                } else if (unmap) {
                    punch(offset, length, false);
                } else {
                    zero(offset, length);
                }
            }
            return finish(status, S_OK, 0);
        } catch (LinuxException e) {
            return finish(status, S_IOERR, 0);
        }
    }

    /** Deallocates a range; for discard an unsupporting file system is fine (discard is a hint). */
    private void punch(long offset, long length, boolean hint) {
        try {
            FileIo.fallocate(file, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, offset, length);
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EOPNOTSUPP) {
                throw e;
            }
            if (!hint) {
                zero(offset, length);
            }
        }
    }

    private void zero(long offset, long length) {
        try {
            FileIo.fallocate(file, FileIo.FALLOC_FL_ZERO_RANGE | FileIo.FALLOC_FL_KEEP_SIZE, offset, length);
            return;
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EOPNOTSUPP) {
                throw e;
            }
        }
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment zeros = arena.allocate(ZERO_CHUNK);
            for (long at = 0; at < length; at += ZERO_CHUNK) {
                long n = Math.min(ZERO_CHUNK, length - at);
                FileIo.pwritev(file, List.of(zeros.asSlice(0, n)), offset + at);
            }
        }
    }

    /** Whether {@code bytes} from {@code sector} is whole sectors inside the disk (overflow-safe). */
    private boolean inRange(long sector, long bytes) {
        if (bytes < 0 || bytes % SECTOR_SIZE != 0 || sector < 0) {
            return false;
        }
        long sectors = bytes / SECTOR_SIZE;
        return sector <= capacitySectors && sectors <= capacitySectors - sector;
    }

    private long finish(List<MemorySegment> status, int value, long dataWritten) {
        if (value != S_OK) {
            errors++;
        }
        Buffers.write(status, 0, new byte[] {(byte) value}, 0, 1);
        return dataWritten + 1;
    }

    /** Requests handled so far. */
    public long requests() {
        return requests;
    }

    /** Requests answered with an error status (or not answerable at all) so far. */
    public long errors() {
        return errors;
    }

    @Override
    public void reset() {
        queue = null;
        features = 0;
    }

    @Override
    public void close() {
        reset();
        file.close();
    }
}
