package dev.kava.virtio.fs;

import static dev.kava.virtio.fs.FuseKernel.FUSE_CREATE;
import static dev.kava.virtio.fs.FuseKernel.FUSE_FORGET;
import static dev.kava.virtio.fs.FuseKernel.FUSE_GETATTR;
import static dev.kava.virtio.fs.FuseKernel.FUSE_INIT;
import static dev.kava.virtio.fs.FuseKernel.FUSE_LOOKUP;
import static dev.kava.virtio.fs.FuseKernel.FUSE_READ;
import static dev.kava.virtio.fs.FuseKernel.FUSE_WRITE;
import static dev.kava.virtio.fs.FuseWire.cstr;
import static dev.kava.virtio.fs.FuseWire.request;
import static dev.kava.virtio.fs.FuseWire.struct;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Errno;
import dev.kava.virtio.device.DeviceHarness;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.Used;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The inline virtio-fs device as the built-in VMM's transport drives it, through the shared
 * simulated guest driver: configuration space, FUSE requests on the request queue, FORGET on the
 * hiprio queue, a driver reset, and hostile chains.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class InlineVirtioFsTest {
    private static final int HIPRIO = 0;
    private static final int REQUESTS = 1;

    @TempDir
    Path tmp;
    private Path share;
    private FuseServer server;
    private InlineVirtioFs device;
    private DeviceHarness h;
    private long unique = 1;

    @BeforeEach
    void start() throws Exception {
        share = Files.createDirectory(tmp.resolve("share"));
        server = new FuseServer(FsConfig.of(share));
        device = new InlineVirtioFs(server, "kavashare");
        h = new DeviceHarness(device, 64);
        assertEquals(0, send(REQUESTS, request(FUSE_INIT, unique++, 0, 0, 0,
                struct(64, b -> b.putInt(7).putInt(36).putInt(128 * 1024).putInt(-1))), 16 + 64).error());
        assertTrue(server.isInitialized());
    }

    @AfterEach
    void stop() {
        if (h != null) {
            h.close();
        }
        device.close();
        server.close();
    }

    private static List<String> workerThreads(String tag) {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("virtio-fs " + tag + " worker-")).toList();
    }

    /** {@code n} LOOKUPs of {@code name} made available at once; returns their heads. */
    private Set<Integer> lookups(int n, String name) {
        GuestDriver d = h.driver();
        Set<Integer> heads = new HashSet<>();
        for (int i = 0; i < n; i++) {
            heads.add(h.queue(REQUESTS).add(d.readable(request(FUSE_LOOKUP, unique++, 1, 0, 0, cstr(name))), d.writable(16 + 128)));
        }
        return heads;
    }

    @Test
    void workersServeTheRequestQueueAndTheLoopReturnsTheirAnswers() throws Exception {
        Files.writeString(share.resolve("f"), "x");
        Set<Integer> heads = lookups(31, "f");
        h.notifyQueue(REQUESTS);
        // the used ring is written only on the loop's thread (here: this one, when it pumps), never by
        // the thread that notified nor by a worker: nothing can be there yet
        assertNull(h.queue(REQUESTS).takeUsed(), "nothing is answered on the notifying thread");
        Set<Integer> answered = new HashSet<>();
        for (int i = 0; i < heads.size(); i++) {
            Used u = h.awaitUsed(REQUESTS, Duration.ofSeconds(10));
            assertEquals(16 + 128, u.length(), "a LOOKUP answered");
            answered.add(u.id());
        }
        assertEquals(heads, answered, "every chain came back once");
        h.awaitUntil(() -> device.inFlight() == 0, Duration.ofSeconds(5), "the workers to finish"); // they count down after handing over
        assertFalse(workerThreads("kavashare").isEmpty(), "served by the device's workers");
        assertTrue(h.interrupt().resets().isEmpty());
    }

    @Test
    void aResetWithRequestsInFlightWaitsForThemAndDropsTheirAnswers() throws Exception {
        Files.writeString(share.resolve("f"), "x");
        lookups(31, "f"); // a queue of 64 descriptors holds 32 two-descriptor chains
        h.notifyQueue(REQUESTS);
        h.locked(device::reset);
        assertEquals(0, device.inFlight(), "the reset waited for every request handed to a worker");
        for (int i = 0; i < 5; i++) {
            h.pump(20);
        }
        assertNull(h.queue(REQUESTS).takeUsed(), "answers for the rings the reset discarded are dropped");
        assertEquals(1, server.inodeCount(), "and what the guest held is gone: the root only");
    }

    @Test
    void closingTheDeviceStopsItsWorkers() throws Exception {
        Files.writeString(share.resolve("f"), "x");
        assertEquals(0, send(REQUESTS, request(FUSE_LOOKUP, unique++, 1, 0, 0, cstr("f")), 16 + 128).error());
        assertFalse(workerThreads("kavashare").isEmpty());
        h.close(); // reset, then close
        h = null;
        for (int i = 0; i < 50 && !workerThreads("kavashare").isEmpty(); i++) {
            Thread.sleep(100); // a terminated pool's last thread may still be on its way out
        }
        assertEquals(List.of(), workerThreads("kavashare"), "no worker thread outlives the device");
    }

    @Test
    void withoutWorkersEveryChainIsServedOnTheNotifyingThread() throws Exception {
        Path other = Files.createDirectory(tmp.resolve("other"));
        try (FuseServer s0 = new FuseServer(FsConfig.of(other))) {
            InlineVirtioFs inline = new InlineVirtioFs(s0, "inline0", 0);
            try (DeviceHarness h0 = new DeviceHarness(inline, 64)) {
                GuestDriver d = h0.driver();
                int head = h0.queue(REQUESTS).add(d.readable(request(FUSE_INIT, 1, 0, 0, 0,
                        struct(64, b -> b.putInt(7).putInt(36).putInt(128 * 1024).putInt(-1)))), d.writable(16 + 64));
                h0.notifyQueue(REQUESTS);
                Used u = h0.queue(REQUESTS).takeUsed();
                assertNotNull(u, "answered before the notify returned");
                assertEquals(head, u.id());
                assertTrue(s0.isInitialized());
                assertEquals(List.of(), workerThreads("inline0"));
            }
        }
    }

    record Reply(Used used, byte[] bytes) {
        int error() {
            return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt(4);
        }

        ByteBuffer payload() {
            return ByteBuffer.wrap(bytes, 16, bytes.length - 16).slice().order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    private Reply send(int queue, byte[] request, int replySize) {
        GuestDriver d = h.driver();
        Buffer out = d.writable(replySize);
        int head = h.queue(queue).add(d.readable(request), out);
        h.notifyQueue(queue);
        Used u = h.awaitUsed(queue, Duration.ofSeconds(10)); // request-queue chains are served by workers
        assertNotNull(u, "the chain came back");
        assertEquals(head, u.id());
        return new Reply(u, d.read(out.address(), u.length()));
    }

    @Test
    void configSpaceHoldsTheTagAndOneRequestQueue() {
        assertEquals(DeviceType.FS, device.type());
        assertEquals(2, device.queueCount(), "hiprio + one request queue");
        assertEquals(0, device.deviceFeatures(), "no VIRTIO_FS_F_NOTIFICATION");
        byte[] config = new byte[device.configSize()];
        device.readConfig(0, config);
        assertEquals(40, config.length);
        assertEquals("kavashare", new String(config, 0, 9, StandardCharsets.UTF_8));
        for (int i = 9; i < 36; i++) {
            assertEquals(0, config[i], "NUL padding");
        }
        assertEquals(1, ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN).getInt(36));
        device.writeConfig(0, new byte[] {'X'});
        byte[] again = new byte[4];
        device.readConfig(0, again);
        assertArrayEquals("kava".getBytes(StandardCharsets.UTF_8), again, "the tag is read-only");
        assertThrows(IllegalArgumentException.class, () -> new InlineVirtioFs(server, "t".repeat(37)));
        assertThrows(IllegalArgumentException.class, () -> new InlineVirtioFs(server, ""));
    }

    @Test
    void createWriteReadAndTheHostSeesTheFile() {
        Reply created = send(REQUESTS, request(FUSE_CREATE, unique++, 1, 0, 0,
                struct(16, b -> b.putInt(0102).putInt(0644).putInt(0).putInt(0)), cstr("hello.txt")), 16 + 128 + 16);
        assertEquals(0, created.error());
        long fh = created.payload().getLong(128);
        byte[] data = "served inline".getBytes(StandardCharsets.UTF_8);
        Reply wrote = send(REQUESTS, request(FUSE_WRITE, unique++, 0, 0, 0,
                struct(40, b -> b.putLong(fh).putLong(0).putInt(data.length)), data), 24);
        assertEquals(0, wrote.error());
        assertEquals(data.length, wrote.payload().getInt(0));
        assertEquals(16 + 8, wrote.used().length(), "the used length is the reply's: header + fuse_write_out");
        Reply read = send(REQUESTS, request(FUSE_READ, unique++, 0, 0, 0,
                struct(40, b -> b.putLong(fh).putLong(7).putInt(6))), 16 + 4096);
        assertEquals(16 + 6, read.used().length());
        assertEquals("inline", new String(read.bytes(), 16, 6, StandardCharsets.UTF_8));
        assertTrue(h.interrupt().used(REQUESTS) > 0, "the driver was interrupted");
        assertEquals(4, device.requests(), "INIT, CREATE, WRITE, READ");
    }

    @Test
    void forgetOnTheHiprioQueueGetsNoReplyAndTheInodeIsGone() throws Exception {
        Files.writeString(share.resolve("f"), "x");
        Reply looked = send(REQUESTS, request(FUSE_LOOKUP, unique++, 1, 0, 0, cstr("f")), 16 + 128);
        assertEquals(0, looked.error());
        long nodeid = looked.payload().getLong(0);
        Reply forgot = send(HIPRIO, request(FUSE_FORGET, unique++, nodeid, 0, 0, struct(8, b -> b.putLong(1))), 16);
        assertEquals(0, forgot.used().length(), "FORGET has no reply");
        Reply stale = send(REQUESTS, request(FUSE_GETATTR, unique++, nodeid, 0, 0, struct(16, b -> { })), 16 + 104);
        assertEquals(-Errno.EBADF, stale.error(), "a forgotten nodeid is unknown");
    }

    @Test
    void aDriverResetDropsWhatTheGuestHeld() throws Exception {
        Files.writeString(share.resolve("g"), "y");
        long nodeid = send(REQUESTS, request(FUSE_LOOKUP, unique++, 1, 0, 0, cstr("g")), 16 + 128).payload().getLong(0);
        h.resetAndDetach();
        h = new DeviceHarness(device, 64);
        send(REQUESTS, request(FUSE_INIT, unique++, 0, 0, 0,
                struct(64, b -> b.putInt(7).putInt(36).putInt(128 * 1024).putInt(-1))), 16 + 64);
        Reply stale = send(REQUESTS, request(FUSE_GETATTR, unique++, nodeid, 0, 0, struct(16, b -> { })), 16 + 104);
        assertEquals(-Errno.EBADF, stale.error(), "nodeids from before the reset are unknown");
    }

    @Test
    void malformedChainsComeBackEmptyAndTheQueueGoesOn() {
        GuestDriver d = h.driver();
        // a chain whose buffer lies outside guest memory
        int bad = h.queue(REQUESTS).add(Buffer.readable(d.memory().size() + 4096, 64), d.writable(64));
        h.notifyQueue(REQUESTS);
        Used u = h.queue(REQUESTS).takeUsed();
        assertNotNull(u);
        assertEquals(bad, u.id());
        assertEquals(0, u.length());
        // a request that lies about its length is answered by the server, not trusted
        byte[] lying = request(FUSE_GETATTR, unique++, 1, 0, 0, struct(16, b -> { }));
        ByteBuffer.wrap(lying).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 1 << 20);
        Reply r = send(REQUESTS, lying, 16 + 104);
        assertTrue(r.used().length() == 0 || r.error() < 0, "refused: " + r.used());
        // and a good request still works
        assertEquals(0, send(REQUESTS, request(FUSE_GETATTR, unique++, 1, 0, 0, struct(16, b -> { })), 16 + 104).error());
        assertNull(h.queue(REQUESTS).takeUsed(), "nothing else came back");
    }
}
