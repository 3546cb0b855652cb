package dev.kava.virtio.blk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.virtio.device.DeviceHarness;
import dev.kava.virtio.device.Features;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.driver.GuestDriver.Used;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VirtioBlockTest {
    private static final int SECTORS = 128;
    @TempDir
    Path dir;
    private Path image;
    private byte[] content;

    @BeforeEach
    void image() throws Exception {
        content = new byte[SECTORS * 512];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i * 7 + i / 512);
        }
        image = dir.resolve("disk.img");
        Files.write(image, content);
    }

    private DeviceHarness harness(boolean readOnly) {
        return new DeviceHarness(new VirtioBlock(new BlockConfig(image, readOnly, "kava-disk-0")), 32);
    }

    static byte[] header(int type, long sector) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
    }

    static byte[] segment(long sector, int sectors, int flags) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(sector).putInt(sectors).putInt(flags).array();
    }

    private static int status(GuestDriver d, Buffer status) {
        return d.read(status.address(), 1)[0];
    }

    /** Submits one chain, notifies, and returns its used element. */
    private static Used submit(DeviceHarness h, Buffer... chain) {
        DriverQueue q = h.queue(0);
        q.add(chain);
        h.notifyQueue(0);
        Used u = q.takeUsed();
        assertTrue(u != null, "the request was not completed");
        return u;
    }

    @Test
    void configSpaceAndFeaturesDescribeTheDisk() {
        try (VirtioBlock rw = new VirtioBlock(new BlockConfig(image, false, "x"));
             VirtioBlock ro = new VirtioBlock(new BlockConfig(image, true, "x"))) {
            byte[] cfg = new byte[VirtioBlock.CONFIG_SIZE];
            rw.readConfig(0, cfg);
            ByteBuffer c = ByteBuffer.wrap(cfg).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(SECTORS, c.getLong(0), "capacity in sectors");
            assertEquals(512, c.getInt(20), "blk_size");
            assertEquals(VirtioBlock.QUEUE_SIZE - 2, c.getInt(12), "seg_max");
            assertEquals(VirtioBlock.MAX_DISCARD_SEGMENTS, c.getInt(40), "max_discard_seg");
            assertTrue(Features.has(rw.deviceFeatures(), VirtioBlock.F_FLUSH));
            assertTrue(Features.has(rw.deviceFeatures(), VirtioBlock.F_DISCARD));
            assertFalse(Features.has(rw.deviceFeatures(), VirtioBlock.F_RO));
            assertTrue(Features.has(ro.deviceFeatures(), VirtioBlock.F_RO));
            assertFalse(Features.has(ro.deviceFeatures(), VirtioBlock.F_WRITE_ZEROES));
            byte[] part = new byte[4];
            rw.readConfig(0, part);
            assertArrayEquals(Arrays.copyOf(cfg, 4), part, "a partial read sees the same bytes");
        }
    }

    @Test
    void readsSectorsIntoGuestMemory() {
        try (DeviceHarness h = harness(true)) {
            GuestDriver d = h.driver();
            Buffer data = d.writable(1024);
            Buffer status = d.writable(1);
            Used u = submit(h, d.readable(header(VirtioBlock.T_IN, 3)), data, status);
            assertEquals(VirtioBlock.S_OK, status(d, status));
            assertEquals(1025, u.length());
            assertArrayEquals(Arrays.copyOfRange(content, 3 * 512, 5 * 512), d.read(data.address(), 1024));
        }
    }

    @Test
    void writesReachTheFileAndFlushSucceeds() throws Exception {
        try (DeviceHarness h = harness(false)) {
            GuestDriver d = h.driver();
            byte[] data = new byte[512];
            Arrays.fill(data, (byte) 0x5a);
            Buffer status = d.writable(1);
            Used u = submit(h, d.readable(header(VirtioBlock.T_OUT, 10)), d.readable(data), status);
            assertEquals(VirtioBlock.S_OK, status(d, status));
            assertEquals(1, u.length());
            Buffer flushStatus = d.writable(1);
            submit(h, d.readable(header(VirtioBlock.T_FLUSH, 0)), flushStatus);
            assertEquals(VirtioBlock.S_OK, status(d, flushStatus));
        }
        byte[] now = Files.readAllBytes(image);
        byte[] expected = new byte[512];
        Arrays.fill(expected, (byte) 0x5a);
        assertArrayEquals(expected, Arrays.copyOfRange(now, 10 * 512, 11 * 512));
        assertArrayEquals(Arrays.copyOfRange(content, 0, 10 * 512), Arrays.copyOfRange(now, 0, 10 * 512));
    }

    @Test
    void headerAndDataSplitAcrossChainedAndIndirectDescriptors() {
        try (DeviceHarness h = harness(true)) {
            GuestDriver d = h.driver();
            DriverQueue q = h.queue(0);
            byte[] hdr = header(VirtioBlock.T_IN, 1);
            Buffer h1 = d.readable(Arrays.copyOf(hdr, 5));
            Buffer h2 = d.readable(Arrays.copyOfRange(hdr, 5, 16));
            Buffer d1 = d.writable(100);
            Buffer d2 = d.writable(412);
            Buffer st = d.writable(1);
            q.addIndirect(h1, h2, d1, d2, st);
            Buffer e1 = d.writable(512);
            Buffer st2 = d.writable(1);
            q.addDirectThenIndirect(List.of(d.readable(header(VirtioBlock.T_IN, 2))), List.of(e1, st2));
            h.notifyQueue(0);
            assertEquals(513, q.takeUsed().length());
            assertEquals(513, q.takeUsed().length());
            byte[] got = new byte[512];
            System.arraycopy(d.read(d1.address(), 100), 0, got, 0, 100);
            System.arraycopy(d.read(d2.address(), 412), 0, got, 100, 412);
            assertArrayEquals(Arrays.copyOfRange(content, 512, 1024), got);
            assertArrayEquals(Arrays.copyOfRange(content, 1024, 1536), d.read(e1.address(), 512));
            assertEquals(0, status(d, st));
            assertEquals(0, status(d, st2));
        }
    }

    @Test
    void getIdAnswersTheSerial() {
        try (DeviceHarness h = harness(true)) {
            GuestDriver d = h.driver();
            Buffer id = d.writable(20);
            Buffer status = d.writable(1);
            Used u = submit(h, d.readable(header(VirtioBlock.T_GET_ID, 0)), id, status);
            assertEquals(21, u.length());
            byte[] expected = Arrays.copyOf("kava-disk-0".getBytes(StandardCharsets.US_ASCII), 20);
            assertArrayEquals(expected, d.read(id.address(), 20));
            assertEquals(0, status(d, status));
        }
    }

    @Test
    void discardAndWriteZeroesClearTheirRanges() throws Exception {
        try (DeviceHarness h = harness(false)) {
            GuestDriver d = h.driver();
            Buffer s1 = d.writable(1);
            submit(h, d.readable(header(VirtioBlock.T_DISCARD, 0)), d.readable(segment(8, 8, 0)), s1);
            assertEquals(VirtioBlock.S_OK, status(d, s1));
            Buffer s2 = d.writable(1);
            byte[] two = new byte[32];
            System.arraycopy(segment(32, 2, 0), 0, two, 0, 16);
            System.arraycopy(segment(40, 3, VirtioBlock.WRITE_ZEROES_FLAG_UNMAP), 0, two, 16, 16);
            submit(h, d.readable(header(VirtioBlock.T_WRITE_ZEROES, 0)), d.readable(two), s2);
            assertEquals(VirtioBlock.S_OK, status(d, s2));
        }
        byte[] now = Files.readAllBytes(image);
        assertArrayEquals(new byte[8 * 512], Arrays.copyOfRange(now, 8 * 512, 16 * 512), "discarded sectors read as zero");
        assertArrayEquals(new byte[2 * 512], Arrays.copyOfRange(now, 32 * 512, 34 * 512));
        assertArrayEquals(new byte[3 * 512], Arrays.copyOfRange(now, 40 * 512, 43 * 512));
        assertArrayEquals(Arrays.copyOfRange(content, 16 * 512, 32 * 512), Arrays.copyOfRange(now, 16 * 512, 32 * 512),
                "sectors between the ranges untouched");
        assertEquals(content.length, now.length, "the file keeps its size");
    }

    @Test
    void aReadOnlyDiskRefusesWritesAndDiscards() throws Exception {
        try (DeviceHarness h = harness(true)) {
            GuestDriver d = h.driver();
            Buffer s1 = d.writable(1);
            submit(h, d.readable(header(VirtioBlock.T_OUT, 0)), d.readable(new byte[512]), s1);
            assertEquals(VirtioBlock.S_IOERR, status(d, s1));
            Buffer s2 = d.writable(1);
            submit(h, d.readable(header(VirtioBlock.T_DISCARD, 0)), d.readable(segment(0, 1, 0)), s2);
            assertEquals(VirtioBlock.S_UNSUPP, status(d, s2));
        }
        assertArrayEquals(content, Files.readAllBytes(image));
    }

    @Test
    void requestsOutsideTheDiskOrMisalignedAreIoErrors() {
        try (DeviceHarness h = harness(false)) {
            GuestDriver d = h.driver();
            long[][] cases = {{SECTORS - 1, 1024}, {SECTORS, 512}, {Long.MAX_VALUE / 512 + 1, 512}, {-1, 512}, {0, 100}, {0, 513}};
            for (long[] c : cases) {
                Buffer data = d.writable((int) c[1]);
                Buffer st = d.writable(1);
                Used u = submit(h, d.readable(header(VirtioBlock.T_IN, c[0])), data, st);
                assertEquals(VirtioBlock.S_IOERR, status(d, st), "read of " + c[1] + " bytes at sector " + c[0]);
                assertEquals(1, u.length(), "nothing but the status written");
                assertArrayEquals(new byte[(int) c[1]], d.read(data.address(), (int) c[1]));
            }
            Buffer st = d.writable(1);
            submit(h, d.readable(header(VirtioBlock.T_OUT, SECTORS)), d.readable(new byte[512]), st);
            assertEquals(VirtioBlock.S_IOERR, status(d, st));
        }
    }

    @Test
    void unknownTypesAreUnsupported() {
        try (DeviceHarness h = harness(false)) {
            GuestDriver d = h.driver();
            for (int type : new int[] {2, 3, VirtioBlock.T_GET_LIFETIME, VirtioBlock.T_SECURE_ERASE, 0x7fffffff, -1}) {
                Buffer st = d.writable(1);
                submit(h, d.readable(header(type, 0)), d.writable(512), st);
                assertEquals(VirtioBlock.S_UNSUPP, status(d, st), "type " + type);
            }
        }
    }

    @Test
    void malformedChainsAreAnsweredWithoutTouchingTheFile() throws Exception {
        try (DeviceHarness h = harness(false)) {
            GuestDriver d = h.driver();
            // a header shorter than 16 bytes
            Buffer st = d.writable(1);
            submit(h, d.readable(new byte[8]), st);
            assertEquals(VirtioBlock.S_IOERR, status(d, st));
            // no writable status byte at all: nothing can be reported
            assertEquals(0, submit(h, d.readable(header(VirtioBlock.T_OUT, 0)), d.readable(new byte[512])).length());
            // too many discard segments, unknown flags, a range past the end
            Buffer s1 = d.writable(1);
            submit(h, d.readable(header(VirtioBlock.T_DISCARD, 0)), d.readable(new byte[16 * 17]), s1);
            assertEquals(VirtioBlock.S_UNSUPP, status(d, s1));
            Buffer s2 = d.writable(1);
            submit(h, d.readable(header(VirtioBlock.T_DISCARD, 0)), d.readable(segment(0, 1, 2)), s2);
            assertEquals(VirtioBlock.S_UNSUPP, status(d, s2));
            Buffer s3 = d.writable(1);
            submit(h, d.readable(header(VirtioBlock.T_WRITE_ZEROES, 0)), d.readable(segment(SECTORS - 1, 2, 0)), s3);
            assertEquals(VirtioBlock.S_IOERR, status(d, s3));
            Buffer s4 = d.writable(1);
            submit(h, d.readable(header(VirtioBlock.T_DISCARD, 0)), d.readable(new byte[20]), s4);
            assertEquals(VirtioBlock.S_UNSUPP, status(d, s4), "segments not a multiple of 16 bytes");
        }
        assertArrayEquals(content, Files.readAllBytes(image));
    }

    @Test
    void aSerialLongerThan20BytesIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new BlockConfig(image, true, "123456789012345678901"));
        assertThrows(IllegalArgumentException.class, () -> new BlockConfig(image, true, "ü"));
    }
}
