package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseKernel.*;
import static dev.kava.virtio.fs.FuseWire.cstr;
import static dev.kava.virtio.fs.FuseWire.request;
import static dev.kava.virtio.fs.FuseWire.struct;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Errno;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.driver.GuestDriver.Used;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;
import dev.kava.virtio.vhostuser.UsedRing;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link VirtioFsDevice} driven by the simulated guest driver through real split rings in guest
 * memory: FUSE requests in direct, chained and indirect descriptors, replies in scattered
 * buffers, and chains a hostile driver makes.
 */
class VirtioFsDeviceTest {
    private static final long FEATURES = (1L << Virtqueue.RING_F_INDIRECT_DESC) | (1L << Virtqueue.RING_F_EVENT_IDX);
    private static final int REQUEST_QUEUE = 1;

    @TempDir
    Path tmp;
    Path share;
    private FuseServer server;
    private VirtioFsDevice device;
    private GuestDriver driver;
    private DriverQueue requests;
    private Virtqueue queue;
    private long unique = 1;

    @BeforeEach
    void start() throws Exception {
        share = Files.createDirectory(tmp.resolve("share"));
        server = new FuseServer(FsConfig.of(share));
        device = new VirtioFsDevice(server, VirtioFsDevice.Options.of("kavatest", 0));
        driver = new GuestDriver();
        requests = driver.queue(64);
        queue = requests.deviceQueue(FEATURES);
        Exchange init = send(request(FUSE_INIT, unique++, 0, 0, 0,
                struct(64, b -> b.putInt(7).putInt(36).putInt(128 * 1024).putInt(-1))), 16 + 64);
        assertEquals(0, init.error());
        assertTrue(server.isInitialized());
    }

    @AfterEach
    void stop() {
        device.close();
        server.close();
        driver.close();
    }

    /** A reply as the driver finds it: the used element and the bytes in the reply buffers. */
    record Exchange(Used used, byte[] reply) {
        int error() {
            return ByteBuffer.wrap(reply).order(ByteOrder.LITTLE_ENDIAN).getInt(4);
        }

        ByteBuffer payload() {
            return ByteBuffer.wrap(reply, 16, reply.length - 16).slice().order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    /** Cuts {@code bytes} into readable buffers at the given offsets. */
    private List<Buffer> readable(byte[] bytes, int... cuts) {
        List<Buffer> out = new ArrayList<>();
        int from = 0;
        for (int k = 0; k <= cuts.length; k++) {
            int to = k < cuts.length ? cuts[k] : bytes.length;
            out.add(driver.readable(Arrays.copyOfRange(bytes, from, to)));
            from = to;
        }
        return out;
    }

    private List<Buffer> writable(int... sizes) {
        List<Buffer> out = new ArrayList<>();
        for (int s : sizes) {
            out.add(driver.writable(s));
        }
        return out;
    }

    /** Runs the device until the driver finds the reply to {@code head}. */
    private Exchange complete(int head, List<Buffer> out) throws VirtqueueException {
        device.handleQueue(REQUEST_QUEUE, queue, driver.memory());
        Used used = requests.takeUsed();
        assertNotNull(used, "the chain was returned");
        assertEquals(head, used.id());
        return new Exchange(used, gather(out, used.length()));
    }

    private byte[] gather(List<Buffer> out, int length) {
        byte[] all = new byte[length];
        int at = 0;
        for (Buffer b : out) {
            int n = Math.min(b.length(), length - at);
            System.arraycopy(driver.read(b.address(), n), 0, all, at, n);
            at += n;
        }
        return all;
    }

    private Exchange send(byte[] request, int replySize) throws VirtqueueException {
        List<Buffer> in = readable(request);
        List<Buffer> out = writable(replySize);
        List<Buffer> all = new ArrayList<>(in);
        all.addAll(out);
        return complete(requests.add(all.toArray(Buffer[]::new)), out);
    }

    private byte[] create(String name) {
        return request(FUSE_CREATE, unique++, 1, 0, 0, struct(16, b -> b.putInt(0102).putInt(0644).putInt(0).putInt(0)), cstr(name));
    }

    // ------------------------------------------------------------------ shape

    @Test
    void configSpaceHoldsTheTagAndTheNumberOfRequestQueues() {
        byte[] config = device.config();
        assertEquals(40, config.length);
        assertEquals("kavatest", new String(config, 0, 8, StandardCharsets.UTF_8));
        for (int i = 8; i < 36; i++) {
            assertEquals(0, config[i], "NUL padding");
        }
        assertEquals(1, ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN).getInt(36));
        assertEquals(2, device.numQueues(), "hiprio + one request queue");
        assertEquals(0, device.features(), "no VIRTIO_FS_F_NOTIFICATION");
        assertEquals(26, VirtioFsDevice.DEVICE_ID);
        assertThrows(IllegalArgumentException.class, () -> VirtioFsDevice.Options.of("x".repeat(37), 0));
        assertThrows(IllegalArgumentException.class, () -> VirtioFsDevice.Options.of("", 0));
        assertThrows(IllegalArgumentException.class, () -> new VirtioFsDevice.Options("t", 0, 0));
    }

    // ------------------------------------------------------------------ normal requests

    @Test
    void createWriteAndReadThroughTheRequestQueue() throws Exception {
        Exchange created = send(create("hello.txt"), 16 + 128 + 16);
        assertEquals(0, created.error());
        assertEquals(16 + 128 + 16, created.used().length(), "the used length is the reply's length");
        long fh = created.payload().getLong(128);
        byte[] data = "written through a descriptor chain".getBytes(StandardCharsets.UTF_8);
        Exchange wrote = send(request(FUSE_WRITE, unique++, 0, 0, 0, struct(40, b -> b.putLong(fh).putLong(0).putInt(data.length)), data), 24);
        assertEquals(0, wrote.error());
        assertEquals(data.length, wrote.payload().getInt(0));
        assertEquals("written through a descriptor chain", Files.readString(share.resolve("hello.txt")));

        Exchange read = send(request(FUSE_READ, unique++, 0, 0, 0, struct(40, b -> b.putLong(fh).putLong(8).putInt(7))), 16 + 4096);
        assertEquals(16 + 7, read.used().length());
        assertEquals("through", new String(read.reply(), 16, 7, StandardCharsets.UTF_8));
        assertEquals(4, device.requests(), "INIT, CREATE, WRITE, READ");
    }

    @Test
    void aRequestSplitOverChainedDescriptorsAndAReplyOverSeveralBuffers() throws Exception {
        Files.writeString(share.resolve("f"), "0123456789abcdef");
        byte[] lookup = request(FUSE_LOOKUP, unique++, 1, 0, 0, cstr("f"));
        List<Buffer> in = readable(lookup, 3, 17, 40, 41); // the header itself split, the name split from its NUL
        List<Buffer> out = writable(5, 11, 50, 200);
        List<Buffer> all = new ArrayList<>(in);
        all.addAll(out);
        Exchange e = complete(requests.add(all.toArray(Buffer[]::new)), out);
        assertEquals(0, e.error());
        assertEquals(16 + 128, e.used().length());
        assertEquals(16, e.payload().getLong(40 + 8), "the file's size in fuse_attr");
    }

    @Test
    void indirectAndMixedDescriptorsCarryRequestsLikeDirectOnes() throws Exception {
        Files.writeString(share.resolve("g"), "indirect");
        byte[] lookup = request(FUSE_LOOKUP, unique++, 1, 0, 0, cstr("g"));
        List<Buffer> out = writable(64, 200);
        List<Buffer> all = new ArrayList<>(readable(lookup, 20));
        all.addAll(out);
        Exchange e = complete(requests.addIndirect(all.toArray(Buffer[]::new)), out);
        assertEquals(0, e.error());
        long nodeid = e.payload().getLong(0);

        byte[] getattr = request(FUSE_GETATTR, unique++, nodeid, 0, 0, struct(16, b -> { }));
        List<Buffer> out2 = writable(16, 104);
        int head = requests.addDirectThenIndirect(readable(getattr), out2);
        Exchange attr = complete(head, out2);
        assertEquals(0, attr.error());
        assertEquals(8, attr.payload().getLong(16 + 8));
    }

    @Test
    void theHiprioQueueForgetsWithoutAReply() throws Exception {
        Files.writeString(share.resolve("h"), "x");
        Exchange e = send(request(FUSE_LOOKUP, unique++, 1, 0, 0, cstr("h")), 16 + 128);
        long nodeid = e.payload().getLong(0);
        assertEquals(2, server.inodeCount());
        DriverQueue hiprio = driver.queue(8);
        Virtqueue hq = hiprio.deviceQueue(FEATURES);
        int head = hiprio.add(driver.readable(request(FUSE_FORGET, unique++, nodeid, 0, 0, struct(8, b -> b.putLong(1)))));
        device.handleQueue(VirtioFsDevice.HIPRIO_QUEUE, hq, driver.memory());
        assertEquals(new Used(head, 0), hiprio.takeUsed());
        assertEquals(1, server.inodeCount(), "forgotten");
    }

    // ------------------------------------------------------------------ reply buffers too small

    @Test
    void aReplyBufferTooSmallGetsERangeOrNothingAndChangesNothing() throws Exception {
        // room for the header only: CREATE would not fit, so ERANGE and no file
        Exchange e = send(create("not-created"), 16);
        assertEquals(16, e.used().length());
        assertEquals(-Errno.ERANGE, e.error());
        assertFalse(Files.exists(share.resolve("not-created")));
        // not even a header: nothing written at all
        e = send(create("not-either"), 15);
        assertEquals(0, e.used().length());
        assertFalse(Files.exists(share.resolve("not-either")));
        // no writable buffer at all
        int head = requests.add(readable(create("nor-this")).toArray(Buffer[]::new));
        device.handleQueue(REQUEST_QUEUE, queue, driver.memory());
        assertEquals(new Used(head, 0), requests.takeUsed());
        assertFalse(Files.exists(share.resolve("nor-this")));
    }

    // ------------------------------------------------------------------ hostile chains

    @Test
    void malformedChainsAreReturnedUnreadAndTheQueueGoesOn() throws Exception {
        Buffer in = driver.readable(create("after-the-attacks"));
        Buffer out = driver.writable(200);
        long end = GuestDriver.DEFAULT_MEMORY;
        List<Integer> bad = new ArrayList<>();
        bad.add(requests.addLoop(in, 3));                                           // a descriptor loop
        bad.add(requests.add(in, Buffer.readable(end - 8, 64)));                   // runs off the end of memory
        bad.add(requests.add(out, in));                                             // readable after writable
        bad.add(requests.add(in.withLength(0), out));                               // a zero-length buffer
        bad.add(requests.addNestedIndirect(in));                                    // INDIRECT inside INDIRECT
        bad.add(requests.addRawIndirect(driver.allocate(32, 16) + 8, 32, 0));       // a table of zero-length buffers
        bad.add(requests.addRawIndirect(0xffff_ffff_0000L, 32, 0));                 // a table outside memory
        bad.add(requests.addRawIndirect(driver.allocate(32, 16), 20, 0));           // a table of 1.25 entries
        requests.publish(requests.size() + 3);                                      // a head beyond the table
        int good = requests.add(in, out);

        device.handleQueue(REQUEST_QUEUE, queue, driver.memory());
        List<Used> used = new ArrayList<>();
        for (Used u; (u = requests.takeUsed()) != null; ) {
            used.add(u);
        }
        List<Used> expected = new ArrayList<>();
        for (int h : bad) {
            expected.add(new Used(h, 0));
        }
        assertEquals(expected, used.subList(0, bad.size()), "every bad chain given back, unread");
        Used last = used.getLast();
        assertEquals(good, last.id());
        assertEquals(16 + 128 + 16, last.length(), "the good request after them is served");
        assertTrue(Files.exists(share.resolve("after-the-attacks")));
        assertEquals(bad.size() + 1, device.malformedChains(), "the out-of-range head counts too");
        assertEquals(List.of("after-the-attacks"), List.of(share.toFile().list()), "nothing else was created");
    }

    @Test
    void anAvailableIndexJumpIsAQueueErrorForTheCaller() {
        requests.jumpAvailIndex(500);
        VirtqueueException e = assertThrows(VirtqueueException.class,
                () -> device.handleQueue(REQUEST_QUEUE, queue, driver.memory()));
        assertTrue(e.reason().fatal());
    }

    @Test
    void garbageChainsNeverEscapeTheDevice() throws Exception {
        java.util.Random random = new java.util.Random(26);
        for (int round = 0; round < 300; round++) {
            int n = 1 + random.nextInt(4);
            for (int k = 0; k < n && requests.availIndex() - requests.usedIndex() < requests.size() - 8; k++) {
                byte[] junk = new byte[random.nextInt(120)];
                random.nextBytes(junk);
                if (junk.length >= 8 && random.nextBoolean()) {
                    // a plausible header: a real opcode and a length that may or may not be true
                    ByteBuffer h = ByteBuffer.wrap(junk).order(ByteOrder.LITTLE_ENDIAN);
                    h.putInt(0, random.nextInt(200));
                    h.putInt(4, 1 + random.nextInt(51));
                }
                Buffer in = junk.length == 0 ? driver.writable(1) : driver.readable(junk);
                Buffer out = driver.writable(random.nextInt(300) + 1);
                try {
                    switch (random.nextInt(6)) {
                        case 0, 1 -> requests.add(in, out);
                        case 2 -> requests.addIndirect(in, out);
                        case 3 -> requests.add(out);
                        case 4 -> requests.add(in);
                        default -> requests.writeDescriptor(random.nextInt(requests.size()), random.nextLong(), random.nextInt(),
                                random.nextInt(8), random.nextInt(requests.size() * 2));
                    }
                } catch (IllegalStateException noFreeDescriptors) {
                    // rewritten descriptors made the driver lose track of some: a smaller queue goes on
                    break;
                }
            }
            try {
                device.handleQueue(REQUEST_QUEUE, queue, driver.memory());
            } catch (VirtqueueException e) {
                assertTrue(e.reason().fatal(), "only queue errors reach the caller: " + e);
                break;
            }
            while (requests.takeUsed() != null) {
                // drain, freeing descriptors
            }
        }
        // the server is still fine: a fresh queue serves a fresh request
        DriverQueue fresh = driver.queue(8);
        requests = fresh;
        queue = fresh.deviceQueue(FEATURES);
        Exchange e = send(request(FUSE_GETATTR, unique++, 1, 0, 0, struct(16, b -> { })), 16 + 104);
        assertEquals(0, e.error());
    }

    // ------------------------------------------------------------------ workers

    @Test
    void workersServeChainsInParallelAndQuiesceWaitsForThem() throws Exception {
        device.close();
        device = new VirtioFsDevice(server, VirtioFsDevice.Options.of("kavatest", 4));
        AtomicInteger notified = new AtomicInteger();
        UsedRing used = UsedRing.of(queue, driver.memory(), notified::incrementAndGet, e -> { throw new AssertionError(e); });
        int n = 24;
        List<List<Buffer>> outs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Files.writeString(share.resolve("file" + i), "content " + i);
            List<Buffer> out = writable(16 + 128);
            outs.add(out);
            List<Buffer> all = new ArrayList<>(readable(request(FUSE_LOOKUP, unique++, 1, 0, 0, cstr("file" + i))));
            all.addAll(out);
            requests.add(all.toArray(Buffer[]::new));
        }
        synchronized (used) {
            device.handleQueue(REQUEST_QUEUE, queue, driver.memory(), used);
        }
        device.quiesce();
        assertEquals(0, device.inFlight());
        int returned = 0;
        for (Used u; (u = requests.takeUsed()) != null; ) {
            assertEquals(16 + 128, u.length());
            returned++;
        }
        assertEquals(n, returned, "every chain came back through the used ring");
        assertTrue(notified.get() >= 1, "the driver was notified");
        assertTrue(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("virtio-fs kavatest worker-")));

        used.retire();
        assertFalse(used.add(0, 0), "a retired used ring takes nothing");
        device.close();
        Thread.sleep(50);
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("virtio-fs kavatest worker-")
                && t.isAlive()), "workers end with the device");
    }

    @Test
    void aLoneRequestIsServedOnTheCallingThread() throws Exception {
        device.close();
        device = new VirtioFsDevice(server, VirtioFsDevice.Options.of("kavatest", 2));
        UsedRing used = UsedRing.of(queue, driver.memory(), () -> { }, e -> { throw new AssertionError(e); });
        int head = requests.add(driver.readable(request(FUSE_GETATTR, unique++, 1, 0, 0, struct(16, b -> { }))), driver.writable(200));
        synchronized (used) {
            device.handleQueue(REQUEST_QUEUE, queue, driver.memory(), used);
        }
        assertEquals(0, device.inFlight());
        assertEquals(new Used(head, 16 + 104), requests.takeUsed(), "answered before handleQueue returned");
    }

    @Test
    void quiesceBlocksWhileAWorkerIsInsideARequest() throws Exception {
        device.close();
        device = new VirtioFsDevice(server, VirtioFsDevice.Options.of("kavatest", 2));
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        // a used ring whose notification blocks stands for a slow request
        UsedRing slow = UsedRing.of(queue, driver.memory(), () -> {
            inside.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, e -> { });
        // two chains at once go to the workers (a lone one is served on the calling thread)
        requests.add(driver.readable(request(FUSE_GETATTR, unique++, 1, 0, 0, struct(16, b -> { }))), driver.writable(200));
        requests.add(driver.readable(request(FUSE_GETATTR, unique++, 1, 0, 0, struct(16, b -> { }))), driver.writable(200));
        synchronized (slow) {
            device.handleQueue(REQUEST_QUEUE, queue, driver.memory(), slow);
        }
        assertTrue(inside.await(5, TimeUnit.SECONDS));
        Thread q = Thread.ofPlatform().start(device::quiesce);
        q.join(200);
        assertTrue(q.isAlive(), "quiesce waits for the request");
        release.countDown();
        q.join(5000);
        assertFalse(q.isAlive());
        assertEquals(0, device.inFlight());
    }
}
