package dev.kava.virtio.vhostuser;

import static dev.kava.virtio.vhostuser.FakeFrontEnd.NEED_REPLY;
import static dev.kava.virtio.vhostuser.FakeFrontEnd.VERSION;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Epoll;
import dev.kava.linux.Fd;
import dev.kava.linux.FileIo;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.queue.Virtqueue;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backend against a {@link FakeFrontEnd}: a well-behaved negotiation and data path, then every
 * kind of hostile or broken front-end. Each case ends with the same check: no descriptor and no
 * mapping of the backend is left once the front-end is gone.
 */
class VhostUserBackendTest {
    private static final long REGION0 = 0xf0000;
    private static final long REGION1 = 0x100000;
    private static final long RAM = 4L << 20;
    private static final String MEMFD_NAME = "kava-test-frontend-ram";

    /** What the backend reported, for assertions. */
    static final class Events implements VhostUserBackend.Observer {
        final BlockingQueue<String> disconnects = new LinkedBlockingQueue<>();
        final List<VhostUserRequest> handled = new CopyOnWriteArrayList<>();
        final List<VhostUserRequest> refused = new CopyOnWriteArrayList<>();
        final BlockingQueue<Integer> failedQueues = new LinkedBlockingQueue<>();

        @Override
        public void handled(VhostUserRequest request, boolean ok) {
            (ok ? handled : refused).add(request);
        }

        @Override
        public void disconnected(String reason) {
            disconnects.add(reason);
        }

        @Override
        public void queueFailed(int index, Exception cause) {
            failedQueues.add(index);
        }

        String awaitDisconnect() throws InterruptedException {
            String reason = disconnects.poll(5, TimeUnit.SECONDS);
            assertNotNull(reason, "the backend did not drop the connection");
            return reason;
        }
    }

    @TempDir
    Path dir;
    private final RecordingDevice device = new RecordingDevice(2);
    private final Events events = new Events();
    private GuestMemory guest;
    private GuestDriver driver;
    private VhostUserBackend backend;
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private java.util.Set<String> fdsBefore;
    private long mappingsBefore;

    @BeforeEach
    void start() throws IOException {
        // the front-end's RAM, shaped like QEMU's microvm table: a hole below 1 MiB
        guest = GuestMemory.memfd(MEMFD_NAME, List.of(new GuestMemory.Range(0, REGION0),
                new GuestMemory.Range(REGION1, RAM - REGION1)));
        driver = new GuestDriver(guest);
        backend = VhostUserBackend.start(device, VhostUserBackend.Config.of(dir.resolve("vu.sock"))
                .withObserver(events).withMessageTimeout(Duration.ofMillis(300)));
        fdsBefore = OpenFiles.descriptors();
        mappingsBefore = mappings();
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        backend.close();
        assertFalse(backend.isRunning(), "backend thread ended");
        assertFalse(Files.exists(dir.resolve("vu.sock")), "socket path removed");
        guest.close();
    }

    /** Bytes of this process mapped from the front-end's memfd (adjacent mappings may share a line). */
    private static long mappings() throws IOException {
        long bytes = 0;
        for (String l : Files.readAllLines(Path.of("/proc/self/maps"))) {
            if (l.contains(MEMFD_NAME)) {
                String[] range = l.substring(0, l.indexOf(' ')).split("-");
                bytes += Long.parseUnsignedLong(range[1], 16) - Long.parseUnsignedLong(range[0], 16);
            }
        }
        return bytes;
    }

    /** What one mapping of the whole table adds to {@link #mappings()}. */
    private static final long TABLE_BYTES = RAM - (REGION1 - REGION0);

    /** After the front-end left: everything the backend took from it is released. */
    private void assertNothingLeaked() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        toClose.clear();
        OpenFiles.assertNoneAdded(fdsBefore, OpenFiles.descriptors(), "descriptors");
        assertEquals(mappingsBefore, mappings(), "mappings of the front-end's memfd");
    }

    private FakeFrontEnd connect() {
        FakeFrontEnd f = FakeFrontEnd.connect(backend.socket());
        toClose.add(f);
        return f;
    }

    private Fd eventfd() {
        Fd fd = FakeFrontEnd.eventfds(1).getFirst();
        toClose.add(fd);
        return fd;
    }

    private static void signal(Fd eventfd) {
        eventfd.writeFully(ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(1).array(), 0, 8);
    }

    private static boolean awaitSignal(Fd eventfd, int millis) {
        try (Epoll e = Epoll.create()) {
            e.add(eventfd, Epoll.EPOLLIN, 0);
            if (e.waitFor(1, millis).isEmpty()) {
                return false;
            }
            eventfd.read(new byte[8], 0, 8);
            return true;
        }
    }

    private static byte[] text(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The negotiation QEMU does, with REPLY_ACK; returns the features acknowledged. */
    private long negotiate(FakeFrontEnd f) {
        long offered = f.call(VhostUserRequest.GET_FEATURES, new byte[0]).u64();
        f.send(VhostUserRequest.SET_FEATURES, FakeFrontEnd.u64(offered));
        long protocol = f.call(VhostUserRequest.GET_PROTOCOL_FEATURES, new byte[0]).u64();
        f.send(VhostUserRequest.SET_PROTOCOL_FEATURES, FakeFrontEnd.u64(protocol));
        f.send(VhostUserRequest.SET_OWNER, new byte[0]);
        assertEquals(0, f.ack(VhostUserRequest.SET_MEM_TABLE, FakeFrontEnd.memTable(guest), closeLater(FakeFrontEnd.memFds(guest))));
        return offered;
    }

    private Fd[] closeLater(Fd[] fds) {
        toClose.addAll(List.of(fds));
        return fds;
    }

    /** Starts ring {@code index} on {@code dq} the way QEMU does; returns {kick, call, err}. */
    private Fd[] startRing(FakeFrontEnd f, int index, DriverQueue dq) {
        Fd kick = eventfd();
        Fd call = eventfd();
        Fd err = eventfd();
        var l = dq.layout();
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_NUM, FakeFrontEnd.state(index, l.size())));
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_BASE, FakeFrontEnd.state(index, 0)));
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_ADDR, FakeFrontEnd.addr(index, 0,
                FakeFrontEnd.user(guest, l.descriptorTable()), FakeFrontEnd.user(guest, l.usedRing()),
                FakeFrontEnd.user(guest, l.availableRing()))));
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_CALL, FakeFrontEnd.u64(index), call));
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_ERR, FakeFrontEnd.u64(index), err));
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_KICK, FakeFrontEnd.u64(index), kick));
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_ENABLE, FakeFrontEnd.state(index, 1)));
        return new Fd[] {kick, call, err};
    }

    // ------------------------------------------------------------------ the well-behaved front-end

    @Test
    void negotiatesMapsMemoryAndServesARing() throws Exception {
        FakeFrontEnd f = connect();
        long offered = negotiate(f);
        assertEquals(1L << 5, offered & 0xffffffL, "the device's own bits");
        assertTrue((offered & (1L << VhostUserBackend.VIRTIO_F_VERSION_1)) != 0);
        assertTrue((offered & (1L << Virtqueue.RING_F_EVENT_IDX)) != 0);
        assertTrue((offered & (1L << Virtqueue.RING_F_INDIRECT_DESC)) != 0);
        assertTrue((offered & (1L << VhostUserBackend.F_PROTOCOL_FEATURES)) != 0);
        assertEquals(0, offered & (1L << 34), "VIRTIO_F_RING_PACKED is not implemented, so not offered");
        assertEquals(offered, device.acknowledged.get());
        assertEquals(2, f.call(VhostUserRequest.GET_QUEUE_NUM, new byte[0]).u64());
        assertEquals(mappingsBefore + TABLE_BYTES, mappings(), "both regions mapped");

        DriverQueue dq = driver.queue(16);
        Fd[] fds = startRing(f, 1, dq);
        var in = driver.readable(text("hello vhost"));
        var out = driver.writable(32);
        int head = dq.add(in, out);
        signal(fds[0]);
        assertTrue(awaitSignal(fds[1], 3000), "call eventfd signalled");
        GuestDriver.Used used = dq.takeUsed();
        assertEquals(new GuestDriver.Used(head, 11), used);
        assertEquals("HELLO VHOST", new String(driver.read(out.address(), 11), StandardCharsets.UTF_8));

        var base = f.call(VhostUserRequest.GET_VRING_BASE, FakeFrontEnd.state(1, 0)).body();
        assertEquals(1, base.getInt());
        assertEquals(1, base.getInt(), "the next available index");
        dq.add(in, out);
        signal(fds[0]);
        assertFalse(awaitSignal(fds[1], 200), "a stopped ring is not processed");
        assertEquals(List.of(VhostUserRequest.GET_FEATURES, VhostUserRequest.SET_FEATURES,
                VhostUserRequest.GET_PROTOCOL_FEATURES, VhostUserRequest.SET_PROTOCOL_FEATURES,
                VhostUserRequest.SET_OWNER, VhostUserRequest.SET_MEM_TABLE), events.handled.subList(0, 6));

        f.close();
        assertEquals("the front-end closed the connection", events.awaitDisconnect());
        assertEquals(1, device.resets.get(), "the device is reset on disconnect");
        assertNothingLeaked();
    }

    @Test
    void aRestartedRingGoesOnFromItsBase() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        DriverQueue dq = driver.queue(8);
        Fd[] fds = startRing(f, 0, dq);
        var in = driver.readable(text("one"));
        var out = driver.writable(8);
        dq.add(in, out);
        signal(fds[0]);
        assertTrue(awaitSignal(fds[1], 3000));
        dq.takeUsed();
        dq.armUsedEvent(); // as a driver does when it re-enables interrupts (EVENT_IDX)
        var base = f.call(VhostUserRequest.GET_VRING_BASE, FakeFrontEnd.state(0, 0)).body();
        base.getInt();
        int next = base.getInt();
        assertEquals(1, next);
        // restart from the base, as QEMU does after a stop
        Fd kick = eventfd();
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_BASE, FakeFrontEnd.state(0, next)));
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_KICK, FakeFrontEnd.u64(0), kick));
        dq.add(driver.readable(text("two")), out);
        signal(kick);
        assertTrue(awaitSignal(fds[1], 3000));
        assertEquals(List.of("one", "two"), device.requests);
    }

    @Test
    void getConfigReadsTheDeviceConfigAndRefusesRangesOutsideIt() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        byte[] req = ByteBuffer.allocate(12 + 4).order(ByteOrder.nativeOrder()).putInt(10).putInt(4).putInt(0).array();
        var reply = f.call(VhostUserRequest.GET_CONFIG, req);
        assertEquals("abcd", new String(reply.payload(), 12, 4, StandardCharsets.US_ASCII));
        byte[] outside = ByteBuffer.allocate(12 + 8).order(ByteOrder.nativeOrder()).putInt(12).putInt(8).putInt(0).array();
        assertEquals(0, f.call(VhostUserRequest.GET_CONFIG, outside).payload().length, "size 0 is GET_CONFIG's error");
        assertNotEquals(0, f.ack(VhostUserRequest.SET_CONFIG, req), "the config space is read-only");
        assertTrue(f.alive());
    }

    @Test
    void resetDeviceReleasesRingsAndMemoryButKeepsTheConnection() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        startRing(f, 0, driver.queue(8));
        assertEquals(0, f.ack(VhostUserRequest.RESET_DEVICE, new byte[0]));
        assertEquals(1, device.resets.get());
        assertEquals(mappingsBefore, mappings(), "memory unmapped by the reset");
        assertTrue(f.alive());
        assertNotEquals(0, f.ack(VhostUserRequest.SET_VRING_KICK, FakeFrontEnd.u64(0), eventfd()), "no memory table any more");
        f.close();
        events.awaitDisconnect();
        assertNothingLeaked();
    }

    @Test
    void aNewMemoryTableWhileARingRunsIsFollowed() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        DriverQueue dq = driver.queue(8);
        Fd[] fds = startRing(f, 0, dq);
        assertEquals(0, f.ack(VhostUserRequest.SET_MEM_TABLE, FakeFrontEnd.memTable(guest), closeLater(FakeFrontEnd.memFds(guest))));
        assertEquals(mappingsBefore + TABLE_BYTES, mappings(), "the old table's mappings are gone");
        var out = driver.writable(8);
        dq.add(driver.readable(text("after")), out);
        signal(fds[0]);
        assertTrue(awaitSignal(fds[1], 3000));
        assertEquals("AFTER", new String(driver.read(out.address(), 5), StandardCharsets.UTF_8));
    }

    @Test
    void aReconnectingFrontEndIsServedAfresh() throws Exception {
        for (int round = 0; round < 3; round++) {
            FakeFrontEnd f = connect();
            negotiate(f);
            startRing(f, 1, driver.queue(8));
            f.close();
            events.awaitDisconnect();
            assertNothingLeaked();
        }
        assertEquals(3, device.resets.get());
        assertTrue(backend.isRunning());
    }

    @Test
    void withStopTheBackendEndsWhenTheFrontEndLeaves() throws Exception {
        Events ev = new Events();
        try (VhostUserBackend once = VhostUserBackend.start(new RecordingDevice(1),
                VhostUserBackend.Config.of(dir.resolve("once.sock")).withObserver(ev)
                        .withOnDisconnect(VhostUserBackend.OnDisconnect.STOP))) {
            try (FakeFrontEnd f = FakeFrontEnd.connect(once.socket())) {
                assertTrue(f.alive());
            }
            ev.awaitDisconnect();
            assertTrue(once.awaitStopped(Duration.ofSeconds(5)));
            assertFalse(Files.exists(dir.resolve("once.sock")));
        }
    }

    @Test
    void closingTheBackendDisconnectsTheFrontEndAndReleasesEverything() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        startRing(f, 0, driver.queue(8));
        backend.close();
        assertTrue(f.closedByBackend(3000));
        f.close();
        assertNothingLeaked();
        assertFalse(backend.isRunning());
    }

    // ------------------------------------------------------------------ hostile framing

    @Test
    void aTruncatedHeaderIsDroppedAfterTheTimeout() throws Exception {
        FakeFrontEnd f = connect();
        f.sendRaw(new byte[] {1, 0, 0, 0, 1});
        assertTrue(events.awaitDisconnect().contains("header truncated"));
        assertTrue(f.closedByBackend(3000));
        assertNothingLeaked();
    }

    @Test
    void aTruncatedHeaderThenHangupIsDropped() throws Exception {
        FakeFrontEnd f = connect();
        f.sendRaw(new byte[] {1, 0, 0, 0, 1, 0});
        f.close();
        assertTrue(events.awaitDisconnect().contains("truncated"));
        assertNothingLeaked();
    }

    @Test
    void aSizeLargerThanThePayloadIsDropped() throws Exception {
        FakeFrontEnd f = connect();
        f.sendRaw(FakeFrontEnd.message(VhostUserRequest.SET_FEATURES.code(), VERSION, 8, new byte[4]));
        assertTrue(events.awaitDisconnect().contains("payload truncated"));
        assertNothingLeaked();
    }

    @Test
    void anAbsurdSizeIsDroppedAtOnce() throws Exception {
        FakeFrontEnd f = connect();
        f.sendRaw(FakeFrontEnd.message(VhostUserRequest.SET_FEATURES.code(), VERSION, Integer.MAX_VALUE, new byte[0]));
        assertTrue(events.awaitDisconnect().contains("announces a payload"));
        FakeFrontEnd g = connect();
        g.sendRaw(FakeFrontEnd.message(VhostUserRequest.SET_FEATURES.code(), VERSION, -1, new byte[0]));
        assertTrue(events.awaitDisconnect().contains("announces a payload of 4294967295"));
        assertNothingLeaked();
    }

    @Test
    void aWrongVersionOrAReplyFlagIsDropped() throws Exception {
        FakeFrontEnd f = connect();
        f.sendRaw(FakeFrontEnd.message(VhostUserRequest.GET_FEATURES.code(), 2, 0, new byte[0]));
        assertTrue(events.awaitDisconnect().contains("version"));
        FakeFrontEnd g = connect();
        g.sendRaw(FakeFrontEnd.message(VhostUserRequest.GET_FEATURES.code(), VERSION | FakeFrontEnd.REPLY, 0, new byte[0]));
        assertTrue(events.awaitDisconnect().contains("REPLY"));
        assertNothingLeaked();
    }

    @Test
    void anUnknownRequestIsRefused() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        f.sendRaw(FakeFrontEnd.message(999, VERSION | NEED_REPLY, 0, new byte[0]));
        assertEquals(1, f.receive().u64(), "with REPLY_ACK: a failure status");
        assertTrue(f.alive());
        f.sendRaw(FakeFrontEnd.message(999, VERSION, 0, new byte[0]));
        assertTrue(events.awaitDisconnect().contains("request 999"), "without: the connection ends");
        assertNothingLeaked();
    }

    @Test
    void unsupportedRequestsAreRefused() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        assertEquals(1, f.ack(VhostUserRequest.SET_LOG_BASE, FakeFrontEnd.u64(0)));
        assertEquals(1, f.ack(VhostUserRequest.ADD_MEM_REG, new byte[40]));
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_ADDR, FakeFrontEnd.addr(0, 1, 0, 0, 0)), "dirty logging");
        assertTrue(f.alive());
    }

    @Test
    void aFixedSizeRequestWithTheWrongSizeIsRefused() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_NUM, new byte[12]));
        assertEquals(1, f.ack(VhostUserRequest.SET_OWNER, new byte[8]));
        f.send(VhostUserRequest.SET_FEATURES, new byte[4]);
        assertTrue(events.awaitDisconnect().contains("expected 8"));
        assertNothingLeaked();
    }

    @Test
    void tooManyDescriptorsAreRefusedAndClosed() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        List<Fd> three = FakeFrontEnd.eventfds(3);
        toClose.addAll(three);
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_CALL, FakeFrontEnd.u64(0), three.toArray(Fd[]::new)));
        assertEquals(1, f.ack(VhostUserRequest.SET_OWNER, new byte[0], three.getFirst()), "descriptors where none belong");
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_CALL, FakeFrontEnd.u64(0x100), three.getFirst()), "NOFD with a descriptor");
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_KICK, FakeFrontEnd.u64(0)), "no descriptor without NOFD");
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_KICK, FakeFrontEnd.u64(0x100)), "polling is not supported");
        List<Fd> many = FakeFrontEnd.eventfds(20);
        toClose.addAll(many);
        f.send(VhostUserRequest.SET_VRING_CALL, FakeFrontEnd.u64(0), many.toArray(Fd[]::new));
        assertTrue(events.awaitDisconnect().contains("more than 8 descriptors"));
        assertNothingLeaked();
    }

    // ------------------------------------------------------------------ hostile memory tables and rings

    private void assertMemTableRefused(FakeFrontEnd f, byte[] table, int fds) {
        Fd[] given = closeLater(java.util.stream.IntStream.range(0, fds)
                .mapToObj(i -> guest.file().orElseThrow().dup()).toArray(Fd[]::new));
        assertEquals(1, f.ack(VhostUserRequest.SET_MEM_TABLE, table, given));
    }

    @Test
    void memoryTablesThatLieAreRefusedWithoutLeaks() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        long ua = 0x7f00_0000_0000L;
        long[][] nine = new long[9][];
        for (int i = 0; i < 9; i++) {
            nine[i] = new long[] {i * 0x1000L, 0x1000, ua + i * 0x1000L, 0};
        }
        assertMemTableRefused(f, FakeFrontEnd.memTable(nine), 8);                                               // more regions than allowed
        assertMemTableRefused(f, FakeFrontEnd.memTable(new long[] {0, 0x2000, ua, 0}, new long[] {0x1000, 0x2000, ua + 0x10000, 0}), 2); // overlap
        assertMemTableRefused(f, FakeFrontEnd.memTable(new long[] {-0x1000, 0x2000, ua, 0}), 1);                // guest range wraps
        assertMemTableRefused(f, FakeFrontEnd.memTable(new long[] {0, 0x2000, -0x1000, 0}), 1);                 // user range wraps
        assertMemTableRefused(f, FakeFrontEnd.memTable(new long[] {0, RAM * 2, ua, 0}), 1);                     // past the end of the memfd
        assertMemTableRefused(f, FakeFrontEnd.memTable(new long[] {0, 0x1000, ua, Long.MAX_VALUE - 10}), 1);    // offset overflows
        assertMemTableRefused(f, FakeFrontEnd.memTable(new long[] {0, 0, ua, 0}), 1);                           // empty region
        assertMemTableRefused(f, FakeFrontEnd.memTable(new long[] {0, 0x1000, ua, 0}), 2);                      // fds != regions
        assertMemTableRefused(f, FakeFrontEnd.memTable(new long[] {0, 0x1000, ua, 0}), 0);
        byte[] lying = FakeFrontEnd.memTable(new long[] {0, 0x1000, ua, 0}, new long[] {0x10000, 0x1000, ua + 0x10000, 0});
        ByteBuffer.wrap(lying).order(ByteOrder.nativeOrder()).putInt(0, 1);                                   // says 1, carries 2
        assertMemTableRefused(f, lying, 1);
        assertTrue(f.alive());
        assertEquals(mappingsBefore + TABLE_BYTES, mappings(), "only the good table of negotiate() is mapped");
        f.close();
        events.awaitDisconnect();
        assertNothingLeaked();
    }

    @Test
    void ringsOutsideTheMappedMemoryAreRefused() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        long desc = FakeFrontEnd.user(guest, 0x1000);
        assertEquals(0, f.ack(VhostUserRequest.SET_VRING_NUM, FakeFrontEnd.state(0, 256)));
        long pastRegion0 = FakeFrontEnd.user(guest, REGION0 - 0x100); // 256 descriptors do not fit before the hole
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_ADDR, FakeFrontEnd.addr(0, 0, pastRegion0, desc + 0x2000, desc + 0x1000)));
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_ADDR, FakeFrontEnd.addr(0, 0, 0x1234_0000, desc + 0x2000, desc + 0x1000)));
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_ADDR, FakeFrontEnd.addr(0, 0, desc, -8, desc + 0x1000)));
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_ADDR, FakeFrontEnd.addr(0, 0, desc + 8, desc + 0x2000, desc + 0x1000)),
                "misaligned table: refused when the ring starts or here");
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_ADDR, FakeFrontEnd.addr(7, 0, desc, desc + 0x2000, desc + 0x1000)), "no vring 7");
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_NUM, FakeFrontEnd.state(0, 100)), "not a power of 2");
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_NUM, FakeFrontEnd.state(0, 512)), "over the device's maximum");
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_BASE, FakeFrontEnd.state(0, 0x10000)));
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_ENABLE, FakeFrontEnd.state(0, 2)));
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_KICK, FakeFrontEnd.u64(0), eventfd()), "no valid address yet");
        assertEquals(1, f.ack(VhostUserRequest.SET_VRING_KICK, FakeFrontEnd.u64(0x200), eventfd()), "bits beyond NOFD");
        assertTrue(f.alive());
        f.close();
        events.awaitDisconnect();
        assertNothingLeaked();
    }

    @Test
    void aMalformedChainStopsItsRingAndSignalsTheErrorEventfd() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        DriverQueue q0 = driver.queue(8);
        DriverQueue q1 = driver.queue(8);
        Fd[] r0 = startRing(f, 0, q0);
        Fd[] r1 = startRing(f, 1, q1);
        q0.addLoop(driver.readable(text("loop")), 3);
        signal(r0[0]);
        assertTrue(awaitSignal(r0[2], 3000), "err eventfd");
        assertEquals(0, events.failedQueues.poll(3, TimeUnit.SECONDS));
        // the other ring and the connection go on
        var out = driver.writable(4);
        q1.add(driver.readable(text("fine")), out);
        signal(r1[0]);
        assertTrue(awaitSignal(r1[1], 3000));
        assertTrue(f.alive());
        // the front-end restarts the failed ring
        var base = f.call(VhostUserRequest.GET_VRING_BASE, FakeFrontEnd.state(0, 0)).body();
        base.getInt();
        assertEquals(1, base.getInt(), "the bad chain was consumed");
        f.close();
        events.awaitDisconnect();
        assertNothingLeaked();
    }

    @Test
    void aDeviceThatThrowsOnlyStopsItsRing() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        DriverQueue q = driver.queue(8);
        Fd[] r = startRing(f, 1, q);
        device.failNext = true;
        q.add(driver.readable(text("x")));
        signal(r[0]);
        assertTrue(awaitSignal(r[2], 3000));
        assertEquals(1, events.failedQueues.poll(3, TimeUnit.SECONDS));
        assertTrue(f.alive());
    }

    @Test
    void aGuestAvailIndexJumpIsAFatalRingError() throws Exception {
        FakeFrontEnd f = connect();
        negotiate(f);
        DriverQueue q = driver.queue(8);
        Fd[] r = startRing(f, 0, q);
        q.jumpAvailIndex(100);
        signal(r[0]);
        assertTrue(awaitSignal(r[2], 3000));
        signal(r[0]);
        assertFalse(awaitSignal(r[1], 200), "no more processing");
        assertTrue(f.alive());
    }

    @Test
    void manyHostileConnectionsLeaveNothingBehind() throws Exception {
        for (int i = 0; i < 10; i++) {
            FakeFrontEnd f = connect();
            negotiate(f);
            startRing(f, i % 2, driver.queue(8));
            switch (i % 3) {
                case 0 -> f.sendRaw(new byte[] {5, 0, 0});
                case 1 -> f.send(VhostUserRequest.SET_MEM_TABLE, new byte[3], closeLater(FakeFrontEnd.memFds(guest)));
                default -> f.sendRaw(FakeFrontEnd.message(77, VERSION, 0, new byte[0]));
            }
            f.close();
            events.awaitDisconnect();
            assertNothingLeaked();
        }
        assertTrue(backend.isRunning());
    }

    @Test
    void aFrontEndThatTruncatesItsMemoryUnderARunningRingCannotCrashTheBackend() throws Exception {
        try (GuestMemory shrinking = GuestMemory.memfd(MEMFD_NAME, List.of(new GuestMemory.Range(0, 1 << 20)))) {
            GuestDriver d = new GuestDriver(shrinking);
            FakeFrontEnd f = connect();
            long offered = f.call(VhostUserRequest.GET_FEATURES, new byte[0]).u64();
            f.send(VhostUserRequest.SET_FEATURES, FakeFrontEnd.u64(offered));
            f.send(VhostUserRequest.SET_PROTOCOL_FEATURES, FakeFrontEnd.u64(1L << VhostUserBackend.PROTOCOL_F_REPLY_ACK));
            assertEquals(0, f.ack(VhostUserRequest.SET_MEM_TABLE, FakeFrontEnd.memTable(shrinking),
                    closeLater(FakeFrontEnd.memFds(shrinking))));
            DriverQueue q = d.queue(8);
            Fd kick = eventfd();
            Fd err = eventfd();
            var l = q.layout();
            assertEquals(0, f.ack(VhostUserRequest.SET_VRING_NUM, FakeFrontEnd.state(0, 8)));
            assertEquals(0, f.ack(VhostUserRequest.SET_VRING_ADDR, FakeFrontEnd.addr(0, 0, FakeFrontEnd.user(shrinking,
                    l.descriptorTable()), FakeFrontEnd.user(shrinking, l.usedRing()), FakeFrontEnd.user(shrinking, l.availableRing()))));
            assertEquals(0, f.ack(VhostUserRequest.SET_VRING_ERR, FakeFrontEnd.u64(0), err));
            assertEquals(0, f.ack(VhostUserRequest.SET_VRING_KICK, FakeFrontEnd.u64(0), kick));
            assertEquals(0, f.ack(VhostUserRequest.SET_VRING_ENABLE, FakeFrontEnd.state(0, 1)));
            q.add(d.readable(text("x")));
            dev.kava.linux.FileIo.ftruncate(shrinking.file().orElseThrow(), 0);
            signal(kick);
            assertTrue(awaitSignal(err, 3000), "the ring failed instead of the process");
            assertTrue(f.alive());
            assertTrue(backend.isRunning());
            f.close();
            events.awaitDisconnect();
        }
        assertNothingLeaked();
    }

    // ------------------------------------------------------------------ devices completing on their own threads

    /** Upper-cases like {@link RecordingDevice}, but on a worker thread, {@code delayMs} after the kick. */
    static final class SlowAsyncDevice implements VhostUserDevice {
        final java.util.concurrent.ExecutorService worker = java.util.concurrent.Executors.newSingleThreadExecutor();
        final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
        final List<String> events = new CopyOnWriteArrayList<>();
        final int delayMs;

        SlowAsyncDevice(int delayMs) {
            this.delayMs = delayMs;
        }

        @Override public long features() { return 0; }
        @Override public long protocolFeatures() { return 0; }
        @Override public int numQueues() { return 1; }
        @Override public int maxQueueSize() { return 256; }
        @Override public byte[] config() { return new byte[0]; }
        @Override public void acknowledgeFeatures(long features) { }
        @Override public void reset() { events.add("reset"); }

        @Override
        public void handleQueue(int index, Virtqueue queue, GuestMemory memory) {
            throw new AssertionError("the backend uses the asynchronous form");
        }

        @Override
        public void handleQueue(int index, Virtqueue queue, GuestMemory memory, UsedRing used)
                throws dev.kava.virtio.queue.VirtqueueException {
            for (var c = queue.pop(memory); c != null; c = queue.pop(memory)) {
                var chain = c;
                inFlight.incrementAndGet();
                worker.execute(() -> {
                    try {
                        Thread.sleep(delayMs);
                        byte[] in = chain.readable().getFirst().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                        byte[] out = new String(in, StandardCharsets.UTF_8).toUpperCase(java.util.Locale.ROOT).getBytes(StandardCharsets.UTF_8);
                        java.lang.foreign.MemorySegment.copy(out, 0, chain.writable().getFirst(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, out.length);
                        events.add("completed");
                        used.add(chain.head(), out.length);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } finally {
                        synchronized (inFlight) {
                            inFlight.decrementAndGet();
                            inFlight.notifyAll();
                        }
                    }
                });
            }
        }

        @Override
        public void quiesce() {
            synchronized (inFlight) {
                while (inFlight.get() > 0) {
                    try {
                        inFlight.wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
            events.add("quiesced");
        }
    }

    @Test
    void aDeviceCompletingOnItsOwnThreadsIsQuiescedBeforeTheNextMessage() throws Exception {
        SlowAsyncDevice slow = new SlowAsyncDevice(300);
        Path sock = dir.resolve("async.sock");
        try (VhostUserBackend b = VhostUserBackend.start(slow, VhostUserBackend.Config.of(sock).withObserver(new Events()))) {
            FakeFrontEnd f = FakeFrontEnd.connect(sock);
            toClose.add(f);
            long offered = f.call(VhostUserRequest.GET_FEATURES, new byte[0]).u64();
            f.send(VhostUserRequest.SET_FEATURES, FakeFrontEnd.u64(offered));
            f.send(VhostUserRequest.SET_PROTOCOL_FEATURES, FakeFrontEnd.u64(1L << VhostUserBackend.PROTOCOL_F_REPLY_ACK));
            assertEquals(0, f.ack(VhostUserRequest.SET_MEM_TABLE, FakeFrontEnd.memTable(guest), closeLater(FakeFrontEnd.memFds(guest))));
            DriverQueue dq = driver.queue(8);
            Fd[] fds = startRing(f, 0, dq);
            var out = driver.writable(16);
            int head = dq.add(driver.readable(text("later")), out);
            signal(fds[0]);
            Thread.sleep(50); // the backend has popped the chain and handed it to the worker
            // a message while the chain is in flight: answered only once the device is quiet
            var base = f.call(VhostUserRequest.GET_VRING_BASE, FakeFrontEnd.state(0, 0)).body();
            base.getInt();
            assertEquals(1, base.getInt());
            assertEquals(1, dq.usedIndex(), "the chain was completed before the ring stopped");
            assertEquals(new GuestDriver.Used(head, 5), dq.takeUsed());
            assertEquals("LATER", new String(driver.read(out.address(), 5), StandardCharsets.UTF_8));
            assertTrue(awaitSignal(fds[1], 1000), "the worker's completion notified the front-end");
            assertTrue(slow.events.indexOf("completed") < slow.events.lastIndexOf("quiesced"), slow.events.toString());

            // a chain in flight when the front-end leaves: quiesced before its memory goes
            Fd kick = eventfd();
            assertEquals(0, f.ack(VhostUserRequest.SET_VRING_BASE, FakeFrontEnd.state(0, 1)));
            assertEquals(0, f.ack(VhostUserRequest.SET_VRING_KICK, FakeFrontEnd.u64(0), kick));
            dq.add(driver.readable(text("gone")), driver.writable(16));
            signal(kick);
            Thread.sleep(50);
            f.close();
            Thread.sleep(400);
            assertEquals(List.of("completed", "quiesced", "reset"), slow.events.subList(slow.events.size() - 3, slow.events.size()),
                    slow.events.toString());
        } finally {
            slow.worker.shutdownNow();
        }
    }
}
