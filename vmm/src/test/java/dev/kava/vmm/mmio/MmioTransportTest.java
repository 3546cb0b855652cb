package dev.kava.vmm.mmio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Pipe;
import dev.kava.virtio.blk.BlockConfig;
import dev.kava.virtio.blk.VirtioBlock;
import dev.kava.virtio.console.VirtioConsole;
import dev.kava.virtio.device.DeviceEventLoop;
import dev.kava.virtio.device.Features;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.driver.GuestDriver.Used;
import dev.kava.virtio.fs.FsConfig;
import dev.kava.virtio.fs.FuseServer;
import dev.kava.virtio.fs.InlineVirtioFs;
import dev.kava.virtio.rng.VirtioRng;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The virtio-mmio register file driven exactly as Linux's virtio_mmio driver drives it, through the
 * method the vCPU's MMIO exit handler calls ({@link MmioTransport#read}/{@link MmioTransport#write}),
 * with real devices behind it and the device event loop run on the test's thread. No KVM.
 */
class MmioTransportTest {
    private static final long VERSION_1 = 1L << 32;
    @TempDir
    Path dir;
    private GuestDriver guest;
    private DeviceEventLoop loop;
    private final AtomicInteger edges = new AtomicInteger();
    private MmioTransport transport;
    private LinuxMmioDriver linux;

    @BeforeEach
    void setUp() {
        guest = new GuestDriver();
        loop = DeviceEventLoop.create();
    }

    @AfterEach
    void tearDown() {
        if (transport != null) {
            transport.close();
        }
        loop.close();
        guest.close();
    }

    private LinuxMmioDriver attach(VirtioDevice device) {
        transport = new MmioTransport(device, guest.memory(), loop, edges::incrementAndGet);
        linux = new LinuxMmioDriver(transport, guest);
        return linux;
    }

    /** Runs the event loop until it has nothing more to do. */
    private void pump() {
        while (loop.runOnce(20) > 0) {
            // keep going while handlers run
        }
    }

    @Test
    void identificationRegisters() {
        attach(new VirtioRng());
        assertEquals(0x74726976, linux.readl(MmioTransport.MAGIC), "\"virt\"");
        assertEquals(2, linux.readl(MmioTransport.VERSION_REG), "virtio-mmio version 2 (no legacy)");
        assertEquals(4, linux.readl(MmioTransport.DEVICE_ID), "entropy source");
        assertEquals(MmioTransport.VENDOR_ID, linux.readl(MmioTransport.VENDOR_ID_REG));
        assertEquals(0, linux.status());
        long f = linux.deviceFeatures();
        assertEquals(VERSION_1, f & VERSION_1);
        assertEquals(Features.TRANSPORT_OFFERED, f & Features.TRANSPORT_OFFERED, "indirect descriptors and event idx offered");
        assertEquals(0, f & (1L << Features.RING_PACKED), "no packed rings");
        assertEquals(-1, linux.readl(MmioTransport.SHM_LEN_LOW), "no shared memory regions");
        assertEquals(-1, linux.readl(MmioTransport.SHM_LEN_HIGH));
    }

    @Test
    void aFullHandshakeAndOneRequestThroughVirtioRng() {
        attach(new VirtioRng());
        assertTrue(linux.negotiate(-1L));
        DriverQueue q = linux.setupQueue(0, 256);
        assertEquals(256, q.size());
        linux.driverOk();
        assertEquals(MmioTransport.S_ACKNOWLEDGE | MmioTransport.S_DRIVER | MmioTransport.S_FEATURES_OK
                | MmioTransport.S_DRIVER_OK, linux.status());
        Buffer b = guest.writable(32);
        q.add(b);
        linux.notify(0);
        assertNull(q.takeUsed(), "the device runs on the event loop, not on the vCPU that notified");
        pump();
        Used u = q.takeUsed();
        assertNotNull(u);
        assertEquals(32, u.length());
        assertFalse(Arrays.equals(new byte[32], guest.read(b.address(), 32)));
        assertEquals(1, edges.get(), "one edge on the interrupt line");
        assertEquals(MmioTransport.INT_VRING, linux.interrupt(), "used-buffer interrupt");
        assertEquals(0, linux.readl(MmioTransport.INTERRUPT_STATUS), "acknowledged");
        assertEquals(1, transport.notifications());
    }

    @Test
    void aFullRequestThroughVirtioBlockWithItsConfigSpace() throws Exception {
        Path img = dir.resolve("disk.img");
        byte[] disk = new byte[64 * 512];
        for (int i = 0; i < disk.length; i++) {
            disk[i] = (byte) (i / 512 + i);
        }
        Files.write(img, disk);
        attach(new VirtioBlock(new BlockConfig(img, true, "mmio-test")));
        assertEquals(2, linux.readl(MmioTransport.DEVICE_ID));
        // capacity is a le64: Linux reads it as two 32-bit halves; byte reads work too
        long capacity = Integer.toUnsignedLong(ByteBuffer.wrap(linux.config(0, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt())
                | (long) ByteBuffer.wrap(linux.config(4, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt() << 32;
        assertEquals(64, capacity);
        assertEquals(64, linux.config(0, 1)[0]);
        assertEquals(512, ByteBuffer.wrap(linux.config(20, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt(), "blk_size");
        assertArrayEquals(new byte[8], linux.config(VirtioBlock.CONFIG_SIZE - 4, 8), "a read past the config space reads zero");
        assertTrue(linux.negotiate(-1L));
        assertEquals(1L << VirtioBlock.F_RO, linux.deviceFeatures() & (1L << VirtioBlock.F_RO));
        DriverQueue q = linux.setupQueue(0, 128);
        linux.driverOk();
        Buffer data = guest.writable(1024);
        Buffer status = guest.writable(1);
        q.addIndirect(guest.readable(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(0).putLong(7).array()),
                data, status);
        linux.notify(0);
        pump();
        Used u = q.takeUsed();
        assertEquals(1025, u.length());
        assertEquals(0, guest.read(status.address(), 1)[0]);
        assertArrayEquals(Arrays.copyOfRange(disk, 7 * 512, 9 * 512), guest.read(data.address(), 1024));
    }

    @Test
    void aVirtioFsMountsHandshakeThroughTheInlineDevice() throws Exception {
        Path share = Files.createDirectory(dir.resolve("share"));
        Files.writeString(share.resolve("hello"), "from the host");
        try (FuseServer server = new FuseServer(FsConfig.of(share))) {
            attach(new InlineVirtioFs(server, "kavashare"));
            assertEquals(26, linux.readl(MmioTransport.DEVICE_ID), "virtio-fs");
            byte[] tag = new byte[36];
            for (int i = 0; i < tag.length; i++) {
                tag[i] = linux.config(i, 1)[0]; // virtio_cread_bytes: one byte at a time
            }
            assertEquals("kavashare", new String(tag, java.nio.charset.StandardCharsets.UTF_8).replace("\0", ""), "the tag");
            assertEquals(0, tag[9], "NUL-padded");
            assertEquals(1, ByteBuffer.wrap(linux.config(36, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt(), "num_request_queues");
            assertTrue(linux.negotiate(-1L));
            linux.setupQueue(0, 128);                        // hiprio
            DriverQueue requests = linux.setupQueue(1, 128);
            linux.driverOk();

            // what virtio_fs does at mount: FUSE_INIT (26), then LOOKUP (1) of a name under the root
            Used init = fuse(requests, 26, 0, ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(7).putInt(36).putInt(65536).putInt(0).array(), 16 + 64);
            assertEquals(16 + 64, init.length());
            assertTrue(server.isInitialized());
            Buffer reply = guest.writable(16 + 128);
            requests.add(guest.readable(fuseHeader(1, 1, "hello\0".getBytes(java.nio.charset.StandardCharsets.UTF_8))), reply);
            linux.notify(1);
            pump();
            Used lookup = requests.takeUsed();
            assertNotNull(lookup);
            ByteBuffer r = ByteBuffer.wrap(guest.read(reply.address(), 16 + 128)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0, r.getInt(4), "no error");
            assertEquals(13, r.getLong(16 + 40 + 8), "the host file's size in fuse_attr");
            assertTrue(edges.get() >= 1, "the driver was interrupted (EVENT_IDX: the simulated driver leaves used_event at 0)");
        }
    }

    /** A FUSE request: a 40-byte {@code fuse_in_header} (from {@code <linux/fuse.h>}) and its body. */
    private static byte[] fuseHeader(int opcode, long nodeid, byte[] body) {
        return ByteBuffer.allocate(40 + body.length).order(ByteOrder.LITTLE_ENDIAN).putInt(40 + body.length).putInt(opcode)
                .putLong(opcode).putLong(nodeid).putInt(0).putInt(0).putInt(1).putInt(0).put(body).array();
    }

    private Used fuse(DriverQueue q, int opcode, long nodeid, byte[] body, int replyBytes) {
        q.add(guest.readable(fuseHeader(opcode, nodeid, body)), guest.writable(replyBytes));
        linux.notify(1);
        pump();
        Used u = q.takeUsed();
        assertNotNull(u, "the request came back");
        return u;
    }

    @Test
    void featuresOkIsRefusedForFeaturesBeyondTheOfferWithoutVersion1OrRefusedByTheDevice() {
        ScriptedDevice d = new ScriptedDevice();
        attach(d);
        linux.reset();
        linux.addStatus(MmioTransport.S_ACKNOWLEDGE);
        linux.addStatus(MmioTransport.S_DRIVER);
        linux.driverFeatures(VERSION_1 | (1L << 60));
        linux.addStatus(MmioTransport.S_FEATURES_OK);
        assertEquals(0, linux.status() & MmioTransport.S_FEATURES_OK, "bit 60 was never offered");
        assertFalse(linux.negotiate(~VERSION_1), "a legacy driver (no VERSION_1) on a version 2 device");
        assertFalse(linux.negotiate(-1L), "the device refuses bit " + ScriptedDevice.REFUSED_BIT);
        assertTrue(linux.negotiate(~(1L << ScriptedDevice.REFUSED_BIT)));
        linux.driverOk();
        assertEquals(List.of("activate 0x" + Long.toHexString(VERSION_1 | (1L << 5) | (1L << 45)
                | (1L << 28) | (1L << 29)) + " 2"), d.calls, "activated once, with exactly the accepted features");
    }

    @Test
    void driverOkWithoutFeaturesOkActivatesNothing() {
        ScriptedDevice d = new ScriptedDevice();
        attach(d);
        linux.addStatus(MmioTransport.S_ACKNOWLEDGE);
        linux.addStatus(MmioTransport.S_DRIVER);
        linux.driverOk();
        assertEquals(0, linux.status() & MmioTransport.S_DRIVER_OK);
        linux.writel(MmioTransport.STATUS, MmioTransport.S_FEATURES_OK);
        assertEquals(0, linux.status() & MmioTransport.S_FEATURES_OK, "FEATURES_OK needs DRIVER: nothing skips steps");
        assertTrue(d.calls.isEmpty());
    }

    @Test
    void queueRegistersFollowSelAndLockOnceReady() {
        ScriptedDevice d = new ScriptedDevice();
        attach(d);
        linux.negotiate(~(1L << ScriptedDevice.REFUSED_BIT));
        linux.writel(MmioTransport.QUEUE_SEL, 2);
        assertEquals(0, linux.readl(MmioTransport.QUEUE_NUM_MAX), "queue 2 does not exist");
        linux.writel(MmioTransport.QUEUE_READY, 1);
        assertEquals(0, linux.readl(MmioTransport.QUEUE_READY));
        linux.writel(MmioTransport.QUEUE_SEL, -1);
        assertEquals(0, linux.readl(MmioTransport.QUEUE_NUM_MAX));
        DriverQueue q0 = linux.setupQueue(0, 16);
        linux.writel(MmioTransport.QUEUE_SEL, 0);
        assertEquals(1, linux.readl(MmioTransport.QUEUE_READY));
        linux.writel(MmioTransport.QUEUE_NUM, 4);                 // ignored: ready
        linux.writeAddress(MmioTransport.QUEUE_DESC_LOW, 1L << 40); // ignored: ready
        assertThrows(IllegalStateException.class, () -> linux.setupQueue(0, 16), "the driver sees it ready");
        linux.driverOk();
        assertEquals(2, d.context.queues().size());
        assertTrue(d.context.queue(0).enabled());
        assertEquals(q0.size(), d.context.queue(0).size(), "the size written before QueueReady");
        assertFalse(d.context.queue(1).enabled(), "queue 1 was never made ready");
        assertEquals(0, linux.status() & MmioTransport.S_DEVICE_NEEDS_RESET, "the ring is where it was first put");
    }

    @Test
    void aRingOutsideGuestMemorySetsNeedsResetAndAResetRecovers() {
        attach(new VirtioRng());
        linux.negotiate(-1L);
        linux.writel(MmioTransport.QUEUE_SEL, 0);
        linux.writel(MmioTransport.QUEUE_NUM, 16);
        linux.writeAddress(MmioTransport.QUEUE_DESC_LOW, GuestDriver.DEFAULT_MEMORY + 4096); // past the end of RAM
        linux.writeAddress(MmioTransport.QUEUE_AVAIL_LOW, 0x10000);
        linux.writeAddress(MmioTransport.QUEUE_USED_LOW, 0x11000);
        linux.writel(MmioTransport.QUEUE_READY, 1);
        linux.driverOk();
        assertEquals(MmioTransport.S_DEVICE_NEEDS_RESET, linux.status() & MmioTransport.S_DEVICE_NEEDS_RESET);
        assertEquals(MmioTransport.INT_CONFIG, linux.interrupt() & MmioTransport.INT_CONFIG, "a config-change interrupt");
        assertTrue(transport.resetReason().contains("descriptor table"), transport.resetReason());
        linux.reset();
        assertEquals(0, linux.status());
        assertTrue(linux.negotiate(-1L));
        DriverQueue q = linux.setupQueue(0, 16);
        linux.driverOk();
        q.add(guest.writable(4));
        linux.notify(0);
        pump();
        assertEquals(4, q.takeUsed().length(), "works after the reset");
    }

    @Test
    void aHostileRingAfterActivationEndsInNeedsResetNotAnException() {
        attach(new VirtioRng());
        linux.negotiate(-1L);
        DriverQueue q = linux.setupQueue(0, 16);
        linux.driverOk();
        q.jumpAvailIndex(100);
        linux.notify(0);
        pump();
        assertEquals(MmioTransport.S_DEVICE_NEEDS_RESET, linux.status() & MmioTransport.S_DEVICE_NEEDS_RESET);
        assertTrue(transport.resetReason().contains("AVAIL_INDEX_JUMP"), transport.resetReason());
        linux.notify(0);
        pump();
        assertNull(q.takeUsed(), "nothing more is processed until the driver resets");
    }

    @Test
    void aDeviceThatThrowsIsContained() {
        ScriptedDevice d = new ScriptedDevice();
        d.throwOnNotify = true;
        attach(d);
        linux.negotiate(~(1L << ScriptedDevice.REFUSED_BIT));
        linux.setupQueue(0, 16);
        linux.driverOk();
        linux.notify(0);
        pump();
        assertEquals(MmioTransport.S_DEVICE_NEEDS_RESET, linux.status() & MmioTransport.S_DEVICE_NEEDS_RESET);
        assertTrue(transport.resetReason().contains("a device bug"));
    }

    @Test
    void oddAccessesAreHarmless() {
        ScriptedDevice d = new ScriptedDevice();
        attach(d);
        byte[] two = {9, 9};
        transport.read(MmioTransport.MAGIC, two);
        assertArrayEquals(new byte[2], two, "a 16-bit register read reads zero");
        transport.read(MmioTransport.MAGIC + 1, new byte[4]);
        transport.write(MmioTransport.STATUS, new byte[] {1});
        assertEquals(0, linux.status(), "an 8-bit register write is ignored");
        transport.write(MmioTransport.STATUS + 2, new byte[] {1, 0, 0, 0});
        assertEquals(0, linux.status(), "a misaligned write is ignored");
        linux.writel(0x0c0, 1); // QueueReset without VIRTIO_F_RING_RESET
        linux.writel(0xff0, 1);
        linux.notify(7);       // no such queue
        linux.notify(-1);
        assertArrayEquals(new byte[4], linux.config(d.configSize(), 4), "config past its end");
        transport.read(MmioTransport.CONFIG + 1, new byte[3]);  // not a 1/2/4/8-byte access
        transport.write(MmioTransport.CONFIG + 10, new byte[4]); // crosses the end
        assertTrue(d.calls.isEmpty(), d.calls.toString());
        transport.write(MmioTransport.CONFIG + 8, new byte[] {42, 43, 44, 45});
        assertEquals(List.of("writeConfig 8 4"), d.calls);
        pump();
        assertEquals(0, transport.notifications(), "bad notifies never reach the device");
    }

    @Test
    void configChangesBumpTheGenerationAndInterrupt() {
        ScriptedDevice d = new ScriptedDevice();
        attach(d);
        linux.negotiate(~(1L << ScriptedDevice.REFUSED_BIT));
        linux.driverOk();
        int gen = linux.readl(MmioTransport.CONFIG_GENERATION);
        d.context.interrupt().configChanged();
        assertEquals(gen + 1, linux.readl(MmioTransport.CONFIG_GENERATION));
        assertEquals(MmioTransport.INT_CONFIG, linux.interrupt());
        assertEquals(1, edges.get());
    }

    @Test
    void aResetStopsWatchingTheDevicesDescriptorsAndResetsTheDevice() {
        Pipe out = Pipe.open();
        Pipe in = Pipe.open();
        try {
            attach(new VirtioConsole(out.writeEnd(), in.readEnd()));
            int base = loop.watched();
            assertEquals(2, base, "one notify eventfd per queue, always");
            linux.negotiate(-1L);
            linux.setupQueue(0, 16);
            linux.setupQueue(1, 16);
            linux.driverOk();
            assertEquals(base + 2, loop.watched(), "the console's input and output pipes");
            linux.reset();
            assertEquals(base, loop.watched(), "unwatched at reset");
            assertEquals(0, linux.status());
            linux.writel(MmioTransport.QUEUE_SEL, 0);
            assertEquals(0, linux.readl(MmioTransport.QUEUE_READY), "queues forgotten");
        } finally {
            out.readEnd().close();
            in.writeEnd().close();
        }
    }

    @Test
    void statusBitsAreOnlyAdded() {
        attach(new VirtioRng());
        linux.negotiate(-1L);
        linux.writel(MmioTransport.STATUS, MmioTransport.S_ACKNOWLEDGE);
        assertEquals(MmioTransport.S_ACKNOWLEDGE | MmioTransport.S_DRIVER | MmioTransport.S_FEATURES_OK, linux.status(),
                "clearing bits other than by writing 0 does nothing");
        linux.driverFeatures(0);
        linux.setupQueue(0, 8);
        linux.driverOk();
        assertEquals(MmioTransport.S_DRIVER_OK, linux.status() & MmioTransport.S_DRIVER_OK);
        assertEquals(8, linux.queues.getFirst().size());
    }

    @Test
    void theKernelParameterAnnouncesTheWindowAndIrq() {
        assertEquals("virtio_mmio.device=4K@0xd0000000:5", new MmioSlot(0xd000_0000L, 0x1000, 5).kernelParameter());
        assertEquals("virtio_mmio.device=1M@0xd0100000:23", new MmioSlot(0xd010_0000L, 1 << 20, 23).kernelParameter());
        assertThrows(IllegalArgumentException.class, () -> new MmioSlot(0xd000_0000L, 0x1000, 0));
        assertThrows(IllegalArgumentException.class, () -> new MmioSlot(0xd000_0000L, 0x800, 5));
    }
}
