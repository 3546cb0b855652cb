package dev.kava.virtio.queue;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.Buffer;
import dev.kava.virtio.driver.GuestDriver.Descriptor;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.queue.VirtqueueException.Reason;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class VirtqueueTest {
    private static final long INDIRECT = 1L << Virtqueue.RING_F_INDIRECT_DESC;
    private static final long EVENT_IDX = 1L << Virtqueue.RING_F_EVENT_IDX;
    private static final long ALL = INDIRECT | EVENT_IDX;

    private final GuestDriver driver = new GuestDriver();
    private final GuestMemory mem = driver.memory();

    @AfterEach
    void close() {
        driver.close();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(List<MemorySegment> segments) {
        StringBuilder sb = new StringBuilder();
        for (MemorySegment s : segments) {
            sb.append(new String(s.toArray(JAVA_BYTE), StandardCharsets.UTF_8));
        }
        return sb.toString();
    }

    private static Reason reasonOf(Virtqueue q, GuestMemory mem) {
        return assertThrows(VirtqueueException.class, () -> q.pop(mem)).reason();
    }

    // ------------------------------------------------------------------ well-formed chains

    @Test
    void aDirectChainComesOutAsReadableThenWritableViews() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(ALL);
        assertNull(q.pop(mem));
        Buffer in = driver.readable(bytes("request"));
        Buffer out = driver.writable(16);
        int head = dq.add(in, out);

        DescriptorChain c = q.pop(mem);
        assertNotNull(c);
        assertEquals(head, c.head());
        assertEquals("request", text(c.readable()));
        assertEquals(7, c.readableLength());
        assertEquals(16, c.writableLength());
        assertEquals(2, c.descriptors());
        assertTrue(c.readable().getFirst().isReadOnly(), "the device cannot write a device-readable buffer");
        assertThrows(IllegalArgumentException.class, () -> c.readable().getFirst().set(JAVA_BYTE, 0, (byte) 1));
        c.writable().getFirst().copyFrom(MemorySegment.ofArray(bytes("response")));
        q.addUsed(mem, c.head(), 8);
        assertNull(q.pop(mem));

        GuestDriver.Used used = dq.takeUsed();
        assertEquals(new GuestDriver.Used(head, 8), used);
        assertEquals("response", new String(driver.read(out.address(), 8), StandardCharsets.UTF_8));
        assertNull(dq.takeUsed());
    }

    @Test
    void chainedDescriptorsKeepTheirOrder() throws Exception {
        DriverQueue dq = driver.queue(16);
        Virtqueue q = dq.deviceQueue(0);
        dq.add(driver.readable(bytes("a")), driver.readable(bytes("bc")), driver.readable(bytes("def")),
                driver.writable(4), driver.writable(5));
        DescriptorChain c = q.pop(mem);
        assertEquals("abcdef", text(c.readable()));
        assertEquals(6, c.readableLength());
        assertEquals(List.of(4L, 5L), c.writable().stream().map(MemorySegment::byteSize).toList());
        assertEquals(9, c.writableLength());
        assertEquals(5, c.descriptors());
    }

    @Test
    void writeOnlyAndReadOnlyChainsAreFine() throws Exception {
        DriverQueue dq = driver.queue(4);
        Virtqueue q = dq.deviceQueue(0);
        dq.add(driver.writable(32));
        dq.add(driver.readable(bytes("x")));
        assertEquals(32, q.pop(mem).writableLength());
        assertEquals(List.of(), q.pop(mem).writable());
    }

    @Test
    void anIndirectTableIsWalkedLikeAChain() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(ALL);
        int head = dq.addIndirect(driver.readable(bytes("in")), driver.readable(bytes("direct")), driver.writable(64));
        DescriptorChain c = q.pop(mem);
        assertEquals(head, c.head());
        assertEquals("indirect", text(c.readable()));
        assertEquals(64, c.writableLength());
        assertEquals(3, c.descriptors());
    }

    @Test
    void directDescriptorsFollowedByAnIndirectTableAreValid() throws Exception {
        // virtio 1.2 §2.7.5.3.2: the device MUST handle zero or more direct descriptors followed by one indirect
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(INDIRECT);
        dq.addDirectThenIndirect(List.of(driver.readable(bytes("head"))),
                List.of(driver.readable(bytes("+tail")), driver.writable(8)));
        DescriptorChain c = q.pop(mem);
        assertEquals("head+tail", text(c.readable()));
        assertEquals(8, c.writableLength());
        assertEquals(3, c.descriptors());
    }

    @Test
    void theWriteFlagOfTheIndirectDescriptorItselfIsIgnored() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(INDIRECT);
        long table = dq.indirectTable(driver.readable(bytes("r")), driver.writable(2));
        dq.addRawIndirect(table, 32, Virtqueue.DESC_F_WRITE);
        DescriptorChain c = q.pop(mem);
        assertEquals("r", text(c.readable()));
        assertEquals(2, c.writableLength());
    }

    @Test
    void bufferAcrossTwoAdjacentRegionsBecomesTwoSegments() throws Exception {
        try (GuestMemory two = GuestMemory.anonymous(List.of(new GuestMemory.Range(0, 1 << 20),
                new GuestMemory.Range(1 << 20, 1 << 20)))) {
            GuestDriver d = new GuestDriver(two);
            DriverQueue dq = d.queue(4);
            Virtqueue q = dq.deviceQueue(0);
            dq.add(Buffer.readable((1 << 20) - 4, 8));
            DescriptorChain c = q.pop(two);
            assertEquals(List.of(4L, 4L), c.readable().stream().map(MemorySegment::byteSize).toList());
            assertEquals(8, c.readableLength());
        }
    }

    // ------------------------------------------------------------------ malformed chains

    /** Each case publishes one bad chain; the queue must name the broken rule and then go on. */
    private void assertRejectedThenQueueGoesOn(long features, Reason expected, Function<DriverQueue, Integer> attack)
            throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(features);
        int head = attack.apply(dq);
        VirtqueueException e = assertThrows(VirtqueueException.class, () -> q.pop(mem));
        assertEquals(expected, e.reason(), e.getMessage());
        assertFalse(expected.fatal());
        assertEquals(head, e.head(), "the consumed chain's head, so the device can return it");
        q.addUsed(mem, e.head(), 0);
        // a good chain after the bad one is served
        int good = dq.add(driver.readable(bytes("ok")));
        DescriptorChain c = q.pop(mem);
        assertEquals(good, c.head());
        assertEquals("ok", text(c.readable()));
    }

    @Test
    void aDescriptorIndexOutOfRangeInNext() throws Exception {
        assertRejectedThenQueueGoesOn(0, Reason.NEXT_OUT_OF_RANGE, dq -> {
            dq.writeDescriptor(0, driver.readable(bytes("x")).address(), 1, Virtqueue.DESC_F_NEXT, 8);
            dq.publish(0);
            return 0;
        });
    }

    @Test
    void aHeadOutOfRangeIsConsumedWithoutAHead() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(0);
        dq.publish(8);
        dq.publish(0xffff);
        VirtqueueException e = assertThrows(VirtqueueException.class, () -> q.pop(mem));
        assertEquals(Reason.HEAD_OUT_OF_RANGE, e.reason());
        assertEquals(-1, e.head());
        assertEquals(Reason.HEAD_OUT_OF_RANGE, reasonOf(q, mem));
        assertNull(q.pop(mem));
        assertEquals(2, q.nextAvailIndex());
    }

    @Test
    void aLoopEndsAsChainTooLong() throws Exception {
        assertRejectedThenQueueGoesOn(0, Reason.CHAIN_TOO_LONG, dq -> dq.addLoop(driver.readable(bytes("loop")), 3));
    }

    @Test
    void aSelfLoopEndsAsChainTooLong() throws Exception {
        assertRejectedThenQueueGoesOn(0, Reason.CHAIN_TOO_LONG, dq -> dq.addLoop(driver.writable(4), 1));
    }

    @Test
    void aReadableDescriptorAfterAWritableOne() throws Exception {
        assertRejectedThenQueueGoesOn(0, Reason.READABLE_AFTER_WRITABLE,
                dq -> dq.add(driver.readable(bytes("a")), driver.writable(4), driver.readable(bytes("b"))));
    }

    @Test
    void aBufferOutsideGuestMemory() throws Exception {
        assertRejectedThenQueueGoesOn(0, Reason.ADDRESS_OUT_OF_RANGE,
                dq -> dq.add(Buffer.readable(GuestDriver.DEFAULT_MEMORY + 4096, 16)));
    }

    @Test
    void aBufferWhoseAddressPlusLengthWraps() throws Exception {
        assertRejectedThenQueueGoesOn(0, Reason.ADDRESS_OUT_OF_RANGE, dq -> dq.add(Buffer.writable(-16, 64)));
    }

    @Test
    void aLyingLengthThatRunsPastTheEndOfMemory() throws Exception {
        assertRejectedThenQueueGoesOn(0, Reason.ADDRESS_OUT_OF_RANGE,
                dq -> dq.add(driver.readable(bytes("short")).withLength((int) GuestDriver.DEFAULT_MEMORY)));
    }

    @Test
    void aZeroLengthBuffer() throws Exception {
        assertRejectedThenQueueGoesOn(0, Reason.ZERO_LENGTH, dq -> dq.add(driver.readable(bytes("x")).withLength(0)));
    }

    @Test
    void totalLengthAbove32BitsOverflows() throws Exception {
        try (GuestDriver big = new GuestDriver(3L << 30)) {
            DriverQueue dq = big.queue(4);
            Virtqueue q = dq.deviceQueue(0);
            long half = 1L << 31;
            long a = big.allocate(half, 4096);
            dq.add(Buffer.writable(a, (int) half), Buffer.writable(a, (int) half));
            assertEquals(Reason.LENGTH_OVERFLOW, reasonOf(q, big.memory()));
            dq.add(Buffer.writable(a, (int) half), Buffer.writable(a, (int) (half - 1)));
            assertEquals(0xFFFF_FFFFL, q.pop(big.memory()).writableLength(), "2^32 - 1 is still fine");
        }
    }

    @Test
    void indirectWithoutTheFeature() throws Exception {
        assertRejectedThenQueueGoesOn(0, Reason.INDIRECT_NOT_NEGOTIATED,
                dq -> dq.addIndirect(driver.readable(bytes("x"))));
    }

    @Test
    void indirectTogetherWithNext() throws Exception {
        assertRejectedThenQueueGoesOn(INDIRECT, Reason.INDIRECT_WITH_NEXT, dq -> {
            long table = dq.indirectTable(driver.readable(bytes("x")));
            return dq.addRawIndirect(table, 16, Virtqueue.DESC_F_NEXT);
        });
    }

    @Test
    void indirectTableOfZeroBytes() throws Exception {
        assertRejectedThenQueueGoesOn(INDIRECT, Reason.INDIRECT_BAD_LENGTH, dq -> {
            long table = dq.indirectTable(driver.readable(bytes("x")));
            return dq.addRawIndirect(table, 0, 0);
        });
    }

    @Test
    void indirectTableNotAMultipleOf16() throws Exception {
        assertRejectedThenQueueGoesOn(INDIRECT, Reason.INDIRECT_BAD_LENGTH, dq -> {
            long table = dq.indirectTable(driver.readable(bytes("x")), driver.writable(1));
            return dq.addRawIndirect(table, 24, 0);
        });
    }

    @Test
    void anIndirectTableOnlyEightByteAlignedIsAccepted() throws Exception {
        // Linux kmallocs its indirect tables: 8-byte aligned, and the spec asks for no more
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(INDIRECT);
        long table = driver.allocate(16 + 8, 16) + 8;
        long text = driver.readable(bytes("unaligned")).address();
        driver.memory().writeU64(table, text);
        driver.memory().writeU32(table + 8, 9);
        driver.memory().writeU16(table + 12, 0);
        int head = dq.addRawIndirect(table, 16, 0);
        DescriptorChain c = q.pop(mem);
        assertEquals(head, c.head());
        assertEquals("unaligned", text(c.readable()));
    }

    @Test
    void indirectTableLongerThanTheQueue() throws Exception {
        assertRejectedThenQueueGoesOn(INDIRECT, Reason.INDIRECT_TOO_LONG, dq -> {
            long table = driver.allocate(16 * 9, 16);
            return dq.addRawIndirect(table, 16 * 9, 0);
        });
    }

    @Test
    void indirectTableOutsideGuestMemory() throws Exception {
        assertRejectedThenQueueGoesOn(INDIRECT, Reason.ADDRESS_OUT_OF_RANGE,
                dq -> dq.addRawIndirect(GuestDriver.DEFAULT_MEMORY - 16, 32, 0));
    }

    @Test
    void nestedIndirectTables() throws Exception {
        assertRejectedThenQueueGoesOn(INDIRECT, Reason.INDIRECT_NESTED, dq -> dq.addNestedIndirect(driver.readable(bytes("x"))));
    }

    @Test
    void indirectNextPointingOutsideTheTable() throws Exception {
        assertRejectedThenQueueGoesOn(INDIRECT, Reason.INDIRECT_NEXT_OUT_OF_RANGE, dq -> {
            Buffer b = driver.readable(bytes("x"));
            long table = dq.rawTable(new Descriptor(b.address(), 1, Virtqueue.DESC_F_NEXT, 1),
                    new Descriptor(b.address(), 1, Virtqueue.DESC_F_NEXT, 2));
            return dq.addRawIndirect(table, 32, 0);
        });
    }

    @Test
    void aLoopInsideAnIndirectTable() throws Exception {
        assertRejectedThenQueueGoesOn(INDIRECT, Reason.CHAIN_TOO_LONG, dq -> {
            Buffer b = driver.readable(bytes("x"));
            long table = dq.rawTable(new Descriptor(b.address(), 1, Virtqueue.DESC_F_NEXT, 1),
                    new Descriptor(b.address(), 1, Virtqueue.DESC_F_NEXT, 0));
            return dq.addRawIndirect(table, 32, 0);
        });
    }

    @Test
    void aReadableEntryAfterAWritableOneAcrossTheIndirectBoundary() throws Exception {
        assertRejectedThenQueueGoesOn(INDIRECT, Reason.READABLE_AFTER_WRITABLE,
                dq -> dq.addDirectThenIndirect(List.of(driver.writable(4)), List.of(driver.readable(bytes("r")))));
    }

    @Test
    void anAvailableIndexJumpIsFatalAndSticky() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(ALL);
        dq.add(driver.readable(bytes("fine")));
        assertNotNull(q.pop(mem));
        dq.jumpAvailIndex(9);
        VirtqueueException e = assertThrows(VirtqueueException.class, () -> q.pop(mem));
        assertEquals(Reason.AVAIL_INDEX_JUMP, e.reason());
        assertTrue(e.reason().fatal());
        assertSame(e, q.failure());
        dq.setAvailIndex(1); // even a driver that "repairs" the index cannot revive the queue
        assertEquals(Reason.AVAIL_INDEX_JUMP, reasonOf(q, mem));
    }

    @Test
    void anAvailableIndexExactlyAQueueAheadIsLegal() throws Exception {
        DriverQueue dq = driver.queue(4);
        Virtqueue q = dq.deviceQueue(0);
        for (int i = 0; i < 4; i++) {
            dq.add(driver.readable(bytes("r" + i)));
        }
        for (int i = 0; i < 4; i++) {
            assertEquals("r" + i, text(q.pop(mem).readable()));
        }
        assertNull(q.pop(mem));
    }

    @Test
    void invalidLayoutsAreRefusedAtCreation() {
        for (int size : new int[] {0, 3, 6, Virtqueue.MAX_SIZE * 2, -8}) {
            assertEquals(Reason.INVALID_LAYOUT, assertThrows(VirtqueueException.class,
                    () -> Virtqueue.create(mem, new QueueLayout(size, 0x1000, 0x10000, 0x20000), 0)).reason(), "size " + size);
        }
        List<QueueLayout> bad = List.of(
                new QueueLayout(8, 0x1008, 0x10000, 0x20000),                          // descriptor table misaligned
                new QueueLayout(8, 0x1000, 0x10001, 0x20000),                          // available ring misaligned
                new QueueLayout(8, 0x1000, 0x10000, 0x20002),                          // used ring misaligned
                new QueueLayout(8, GuestDriver.DEFAULT_MEMORY - 64, 0x10000, 0x20000), // table runs past the end
                new QueueLayout(8, 0x1000, GuestDriver.DEFAULT_MEMORY - 20, 0x20000),  // used_event outside
                new QueueLayout(8, 0x1000, 0x10000, -64));                             // used ring wraps
        for (QueueLayout l : bad) {
            assertEquals(Reason.INVALID_LAYOUT, assertThrows(VirtqueueException.class, () -> Virtqueue.create(mem, l, 0)).reason(),
                    l.toString());
        }
    }

    @Test
    void ringsThatLeaveGuestMemoryMakeTheQueueFatallyInaccessible() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(0);
        try (GuestMemory other = GuestMemory.anonymous(4096)) { // memory replaced by a smaller table
            assertEquals(Reason.RING_NOT_ACCESSIBLE, reasonOf(q, other));
            assertTrue(q.failure().reason().fatal());
        }
    }

    @Test
    void aGuestRewritingTheRingWhileTheDeviceReadsNeverGetsPastValidation() throws Exception {
        DriverQueue dq = driver.queue(4);
        Virtqueue q = dq.deviceQueue(INDIRECT);
        Buffer buf = driver.readable(new byte[64]);
        Buffer out = driver.writable(64);
        long table = dq.indirectTable(buf, out);
        AtomicBoolean stop = new AtomicBoolean();
        Thread hostile = Thread.ofPlatform().start(() -> {
            java.util.Random r = new java.util.Random(1);
            long[] addrs = {buf.address(), out.address(), GuestDriver.DEFAULT_MEMORY - 8, -32, table};
            while (!stop.get()) {
                int d = r.nextInt(4);
                dq.writeDescriptor(d, addrs[r.nextInt(addrs.length)], r.nextInt(4) == 0 ? 32 : r.nextInt(128),
                        r.nextInt(8), r.nextInt(6));
            }
        });
        int chains = 0;
        int errors = 0;
        try {
            for (int i = 0; i < 20_000; i++) {
                dq.publish(i % 4);
                try {
                    DescriptorChain c = q.pop(mem);
                    for (MemorySegment s : c.readable()) {
                        assertTrue(mem.contains(s.address() - mem.regions().getFirst().userAddress(), s.byteSize()));
                    }
                    assertTrue(c.readableLength() + c.writableLength() > 0);
                    chains++;
                } catch (VirtqueueException e) {
                    assertFalse(e.reason().fatal(), e.getMessage());
                    errors++;
                }
            }
        } finally {
            stop.set(true);
            hostile.join();
        }
        assertEquals(20_000, chains + errors);
        assertTrue(chains > 0 && errors > 0, chains + " chains, " + errors + " errors");
    }

    // ------------------------------------------------------------------ notifications

    @Test
    void eventIdxNotifiesOnlyWhenTheUsedIndexPassesUsedEvent() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(EVENT_IDX);
        dq.setUsedEvent(0);
        Buffer b = driver.writable(1);
        assertFalse(q.needsNotification(mem), "nothing used yet");
        for (int i = 0; i < 3; i++) {
            dq.add(b);
        }
        q.addUsed(mem, q.pop(mem).head(), 0);
        assertTrue(q.needsNotification(mem), "used index went 0 -> 1, passing used_event 0");
        q.addUsed(mem, q.pop(mem).head(), 0);
        assertFalse(q.needsNotification(mem), "1 -> 2 does not pass used_event 0");
        dq.setUsedEvent(3);
        q.addUsed(mem, q.pop(mem).head(), 0);
        assertFalse(q.needsNotification(mem), "2 -> 3 does not pass used_event 3");
        for (int i = 0; i < 2; i++) {
            dq.takeUsed();
        }
        dq.add(b);
        dq.add(b);
        q.addUsed(mem, q.pop(mem).head(), 0);
        q.addUsed(mem, q.pop(mem).head(), 0);
        assertTrue(q.needsNotification(mem), "3 -> 5 in one batch passes used_event 3 (index 4 was written)");
        assertFalse(q.needsNotification(mem), "and nothing new since");
    }

    @Test
    void withoutEventIdxTheNoInterruptFlagDecides() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(0);
        Buffer b = driver.writable(1);
        dq.add(b);
        q.addUsed(mem, q.pop(mem).head(), 0);
        assertTrue(q.needsNotification(mem));
        dq.setNoInterrupt(true);
        dq.add(b);
        q.addUsed(mem, q.pop(mem).head(), 0);
        assertFalse(q.needsNotification(mem));
        dq.setNoInterrupt(false);
        assertFalse(q.needsNotification(mem), "nothing used since the last check");
    }

    @Test
    void eventIdxPublishesAvailEventWhenTheRingRunsDry() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(EVENT_IDX);
        Buffer b = driver.readable(bytes("x"));
        int old = dq.availIndex();
        dq.add(b);
        assertTrue(dq.mustNotify(old, true), "avail_event 0: the first chain is notified");
        assertNotNull(q.pop(mem));
        old = dq.availIndex();
        dq.add(b);
        assertFalse(dq.mustNotify(old, true), "the device has not asked again yet");
        assertNotNull(q.pop(mem));
        assertNull(q.pop(mem));
        assertEquals(2, dq.availEvent(), "an empty pop asks for the next chain");
        old = dq.availIndex();
        dq.add(b);
        assertTrue(dq.mustNotify(old, true));
    }

    @Test
    void disablingNotificationsSetsNoNotifyAndEnablingReportsPendingWork() throws Exception {
        DriverQueue dq = driver.queue(8);
        Virtqueue q = dq.deviceQueue(0);
        q.disableNotification(mem);
        assertEquals(Virtqueue.USED_F_NO_NOTIFY, dq.usedFlags());
        assertFalse(dq.mustNotify(0, false));
        dq.add(driver.readable(bytes("x")));
        assertTrue(q.enableNotification(mem), "a chain arrived while notifications were off");
        assertEquals(0, dq.usedFlags());
        assertNotNull(q.pop(mem));
        assertFalse(q.enableNotification(mem));
    }

    // ------------------------------------------------------------------ wraparound

    @Test
    void sixteenBitIndexesWrapAfter65536Requests() throws Exception {
        DriverQueue dq = driver.queue(4);
        Virtqueue q = dq.deviceQueue(EVENT_IDX);
        Buffer in = driver.readable(new byte[4]);
        Buffer out = driver.writable(4);
        int total = 65536 + 1000;
        int notifications = 0;
        for (int i = 0; i < total; i++) {
            byte[] stamp = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(i).array();
            driver.write(in.address(), stamp);
            int head = dq.add(in, out);
            DescriptorChain c = q.pop(mem);
            assertEquals(head, c.head());
            assertArrayEquals(stamp, c.readable().getFirst().toArray(JAVA_BYTE), "request " + i);
            q.addUsed(mem, c.head(), i & 0xff);
            dq.setUsedEvent(q.nextUsedIndex() - 1); // a driver that wants every completion
            if (q.needsNotification(mem)) {
                notifications++;
            }
            GuestDriver.Used u = dq.takeUsed();
            assertEquals(new GuestDriver.Used(head, i & 0xff), u);
        }
        assertEquals(total & 0xffff, q.nextAvailIndex());
        assertEquals(total & 0xffff, q.nextUsedIndex());
        assertEquals(total & 0xffff, dq.usedIndex());
        assertEquals(total, notifications);
        assertNull(q.pop(mem));
    }

    @Test
    void aQueueResumedAtAnIndexNearTheWrapGoesOn() throws Exception {
        DriverQueue dq = driver.queue(8);
        dq.setAvailIndex(0xfffe);
        Virtqueue q = Virtqueue.create(mem, dq.layout(), 0, 0xfffe, 0xfffe);
        for (int i = 0; i < 4; i++) {
            dq.add(driver.readable(bytes("w" + i)));
        }
        for (int i = 0; i < 4; i++) {
            DescriptorChain c = q.pop(mem);
            assertEquals("w" + i, text(c.readable()));
            q.addUsed(mem, c.head(), 0);
        }
        assertEquals(2, q.nextAvailIndex());
        assertEquals(2, q.nextUsedIndex());
    }
}
