package dev.kava.virtio.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Pipe;
import dev.kava.virtio.blk.BlockConfig;
import dev.kava.virtio.blk.VirtioBlock;
import dev.kava.virtio.console.VirtioConsole;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.fs.FsConfig;
import dev.kava.virtio.fs.FuseServer;
import dev.kava.virtio.fs.InlineVirtioFs;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.Descriptor;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.driver.GuestDriver.Used;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.rng.VirtioRng;
import dev.kava.virtio.vsock.VirtioVsock;
import dev.kava.virtio.vsock.VsockConfig;
import dev.kava.virtio.vsock.VsockHeader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The ring-level attacks of a hostile driver, written once and run against every device model
 * (blk, console, rng, vsock, inline virtio-fs; virtio-net has the same cases against a real tap in
 * {@code VirtioNetTest}): each malformed chain is handed back unused, a ring that is broken for
 * good makes the device ask for a reset, no exception escapes, nothing hangs (every test has a
 * timeout), and no byte outside the chain's valid buffers is written. After each non-fatal
 * attack, one well-formed request must still work.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HostileDriverContractTest {
    private static final long MEMORY = 4L << 20;

    @TempDir
    static Path dir;
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    /** One device under test: how to build it, which queue takes requests, and one good request. */
    record Case(String name, Function<HostileDriverContractTest, Fixture> create) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** A device in its harness, the queue requests go to, and a check that one good request works. */
    record Fixture(DeviceHarness h, int queue, Function<DeviceHarness, Boolean> goodRequestWorks) {}

    static Stream<Case> devices() {
        return Stream.of(
                new Case("virtio-rng", t -> t.fixture(new VirtioRng(), 0, h -> {
                    Buffer b = h.driver().writable(8);
                    h.queue(0).add(b);
                    h.notifyQueue(0);
                    Used u = h.queue(0).takeUsed();
                    return u != null && u.length() == 8;
                })),
                new Case("virtio-blk", t -> t.blockFixture()),
                new Case("virtio-console", t -> t.consoleFixture()),
                new Case("virtio-vsock", t -> t.vsockFixture()),
                new Case("virtio-fs (inline)", t -> t.fsFixture()));
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : cleanup.reversed()) {
            c.close();
        }
    }

    private Fixture fixture(VirtioDevice device, int queue, Function<DeviceHarness, Boolean> good) {
        DeviceHarness h = new DeviceHarness(device, -1L, 16, new GuestDriver(MEMORY));
        cleanup.add(h);
        return new Fixture(h, queue, good);
    }

    private Fixture blockFixture() {
        try {
            Path img = Files.createTempFile(dir, "disk", ".img");
            Files.write(img, new byte[64 * 512]);
            return fixture(new VirtioBlock(new BlockConfig(img, false, "contract")), 0, h -> {
                GuestDriver d = h.driver();
                Buffer status = d.writable(1);
                h.queue(0).add(d.readable(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(0).putLong(1).array()),
                        d.writable(512), status);
                h.notifyQueue(0);
                Used u = h.queue(0).takeUsed();
                return u != null && u.length() == 513 && d.read(status.address(), 1)[0] == 0;
            });
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private Fixture fsFixture() {
        try {
            Path share = Files.createTempDirectory(dir, "share");
            FuseServer server = new FuseServer(FsConfig.of(share));
            cleanup.add(server);
            InlineVirtioFs device = new InlineVirtioFs(server, "contract");
            return fixture(device, 1, h -> {
                GuestDriver d = h.driver();
                if (!server.isInitialized()) {
                    // FUSE_INIT (26), 7.36
                    byte[] init = fuseRequest(26, 0, ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN)
                            .putInt(7).putInt(36).putInt(65536).putInt(0).array());
                    h.queue(1).add(d.readable(init), d.writable(16 + 64));
                    h.notifyQueue(1);
                    Used u = h.awaitUsed(1, java.time.Duration.ofSeconds(10)); // served by a worker
                    if (u == null || !server.isInitialized()) {
                        return false;
                    }
                }
                // FUSE_GETATTR (3) of the root: a 16-byte header and a 104-byte fuse_attr_out, error 0
                Buffer reply = d.writable(16 + 104);
                h.queue(1).add(d.readable(fuseRequest(3, 1, new byte[16])), reply);
                h.notifyQueue(1);
                Used u = h.awaitUsed(1, java.time.Duration.ofSeconds(10));
                return u != null && u.length() == 120
                        && ByteBuffer.wrap(d.read(reply.address(), 16)).order(ByteOrder.LITTLE_ENDIAN).getInt(4) == 0;
            });
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A FUSE request: {@code fuse_in_header} (written here from {@code <linux/fuse.h>}) and its body. */
    private static byte[] fuseRequest(int opcode, long nodeid, byte[] body) {
        return ByteBuffer.allocate(40 + body.length).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(40 + body.length).putInt(opcode).putLong(System.nanoTime()).putLong(nodeid)
                .putInt(0).putInt(0).putInt(1).putInt(0).put(body).array();
    }

    private Fixture consoleFixture() {
        Pipe out = Pipe.open();
        cleanup.add(out.readEnd());
        return fixture(new VirtioConsole(out.writeEnd(), null), VirtioConsole.TRANSMIT_QUEUE, h -> {
            h.queue(1).add(h.driver().readable(new byte[] {'o', 'k'}));
            h.notifyQueue(1);
            Used u = h.queue(1).takeUsed();
            byte[] b = new byte[2];
            out.readEnd().setNonBlocking(true);
            int n;
            try {
                n = out.readEnd().read(b, 0, 2);
            } catch (ErrnoException e) {
                n = e.errno() == Errno.EAGAIN ? 0 : -1;
            }
            return u != null && n == 2 && b[0] == 'o' && b[1] == 'k';
        });
    }

    private Fixture vsockFixture() {
        Path sock = dir.resolve("c" + System.nanoTime() + ".sock");
        VirtioVsock device = new VirtioVsock(new VsockConfig(42, sock));
        Fixture f = fixture(device, VirtioVsock.TRANSMIT_QUEUE, h -> {
            // a REQUEST to a port nobody listens on must come back as RST
            DriverQueue rx = h.queue(VirtioVsock.RECEIVE_QUEUE);
            Buffer in = h.driver().writable(VsockHeader.BYTES + 64);
            rx.add(in);
            h.notifyQueue(VirtioVsock.RECEIVE_QUEUE);
            h.queue(1).add(h.driver().readable(new VsockHeader(42, 2, 7, 9, 0, VsockHeader.TYPE_STREAM, VsockHeader.OP_REQUEST,
                    0, 4096, 0).encode()));
            h.notifyQueue(1);
            Used tx = h.queue(1).takeUsed();
            Used u = rx.takeUsed();
            return tx != null && u != null && VsockHeader.decode(h.driver().read(in.address(), VsockHeader.BYTES)).op()
                    == VsockHeader.OP_RST;
        });
        return f;
    }

    // ------------------------------------------------------------------ non-fatal: the chain comes back unused

    private static void assertBadChainReturnedThenGoodWorks(Fixture f, Runnable attack) {
        DriverQueue q = f.h().queue(f.queue());
        assertDoesNotThrow(attack::run);
        assertDoesNotThrow(() -> f.h().notifyQueue(f.queue()));
        Used u = q.takeUsed();
        assertTrue(u != null, "the malformed chain was handed back");
        assertEquals(0, u.length(), "with nothing written");
        assertEquals(1, f.h().activeQueue(f.queue()).badChains());
        assertTrue(f.h().interrupt().resets().isEmpty(), "a malformed chain is no reason to reset the device");
        assertTrue(f.goodRequestWorks().apply(f.h()), "a good request works afterwards");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aDescriptorOutsideGuestMemory(Case c) {
        Fixture f = c.create().apply(this);
        DriverQueue q = f.h().queue(f.queue());
        assertBadChainReturnedThenGoodWorks(f, () -> q.add(new Buffer(MEMORY + 4096, 64, false), new Buffer(MEMORY + 8192, 64, true)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aDescriptorStraddlingTheEndOfMemoryTouchesNothing(Case c) {
        Fixture f = c.create().apply(this);
        GuestDriver d = f.h().driver();
        byte[] canary = new byte[64];
        java.util.Arrays.fill(canary, (byte) 0xA5);
        d.write(MEMORY - 64, canary);
        DriverQueue q = f.h().queue(f.queue());
        assertBadChainReturnedThenGoodWorks(f, () -> q.add(d.readable(new byte[16]), new Buffer(MEMORY - 64, 128, true)));
        assertArrayEquals(canary, d.read(MEMORY - 64, 64), "the part inside memory was not written either");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aLoopInTheChain(Case c) {
        Fixture f = c.create().apply(this);
        DriverQueue q = f.h().queue(f.queue());
        assertBadChainReturnedThenGoodWorks(f, () -> q.addLoop(f.h().driver().writable(16), 3));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aLengthThatLiesAboutTheBuffer(Case c) {
        Fixture f = c.create().apply(this);
        DriverQueue q = f.h().queue(f.queue());
        assertBadChainReturnedThenGoodWorks(f, () -> q.add(f.h().driver().writable(16).withLength(0x7fff_ffff)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aZeroLengthDescriptor(Case c) {
        Fixture f = c.create().apply(this);
        DriverQueue q = f.h().queue(f.queue());
        assertBadChainReturnedThenGoodWorks(f, () -> q.add(f.h().driver().writable(16).withLength(0)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aNestedIndirectTable(Case c) {
        Fixture f = c.create().apply(this);
        DriverQueue q = f.h().queue(f.queue());
        assertBadChainReturnedThenGoodWorks(f, () -> q.addNestedIndirect(f.h().driver().writable(16)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void anIndirectTableOfABadLength(Case c) {
        Fixture f = c.create().apply(this);
        DriverQueue q = f.h().queue(f.queue());
        long table = q.rawTable(new Descriptor(f.h().driver().writable(16).address(), 16, Virtqueue.DESC_F_WRITE, 0));
        assertBadChainReturnedThenGoodWorks(f, () -> q.addRawIndirect(table, 24, 0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aReadableBufferAfterAWritableOne(Case c) {
        Fixture f = c.create().apply(this);
        DriverQueue q = f.h().queue(f.queue());
        GuestDriver d = f.h().driver();
        assertBadChainReturnedThenGoodWorks(f, () -> q.add(d.writable(16), d.readable(new byte[16])));
    }

    // ------------------------------------------------------------------ fatal: the device asks for a reset

    private static void assertNeedsResetAndStaysQuiet(Fixture f) {
        assertDoesNotThrow(() -> f.h().notifyQueue(f.queue()));
        List<String> resets = f.h().interrupt().resets();
        assertEquals(1, resets.size(), "DEVICE_NEEDS_RESET requested once: " + resets);
        assertTrue(f.h().activeQueue(f.queue()).failed());
        assertDoesNotThrow(() -> f.h().notifyQueue(f.queue()), "later notifications are ignored, not thrown");
        assertEquals(1, f.h().interrupt().resets().size());
        assertNull(f.h().queue(f.queue()).takeUsed(), "nothing is processed on a failed queue");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void theAvailableIndexJumpingAhead(Case c) {
        Fixture f = c.create().apply(this);
        DriverQueue q = f.h().queue(f.queue());
        q.jumpAvailIndex(q.size() + 1);
        assertNeedsResetAndStaysQuiet(f);
        assertFalse(f.h().interrupt().resets().getFirst().isBlank());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aHeadBeyondTheDescriptorTable(Case c) {
        Fixture f = c.create().apply(this);
        DriverQueue q = f.h().queue(f.queue());
        q.publish(q.size() + 3);
        assertNeedsResetAndStaysQuiet(f);
    }
}
