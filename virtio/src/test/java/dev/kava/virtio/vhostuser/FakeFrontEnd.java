package dev.kava.virtio.vhostuser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kava.linux.Epoll;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.UnixSocket;
import dev.kava.virtio.memory.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * A fake vhost-user front-end for tests: speaks the wire protocol by hand (independently of the
 * backend's own encoding) over a real unix socket, and can say anything, including what a
 * broken or hostile QEMU would. The one place where a fake is the right tool: the real front-end
 * (QEMU) cannot be made to misbehave.
 */
final class FakeFrontEnd implements AutoCloseable {
    static final int VERSION = 1;
    static final int REPLY = 0x4;
    static final int NEED_REPLY = 0x8;
    private static final int TIMEOUT_MS = 3000;

    /** A reply from the backend. */
    record Reply(int request, int flags, byte[] payload) {
        ByteBuffer body() {
            return ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
        }

        long u64() {
            assertEquals(8, payload.length, "u64 reply");
            return body().getLong();
        }
    }

    private final UnixSocket socket;
    private final Epoll epoll;

    private FakeFrontEnd(UnixSocket socket) {
        this.socket = socket;
        this.epoll = Epoll.create();
        epoll.add(socket.fd(), Epoll.EPOLLIN | Epoll.EPOLLRDHUP, 0);
    }

    static FakeFrontEnd connect(Path path) {
        return new FakeFrontEnd(UnixSocket.connect(path));
    }

    // ------------------------------------------------------------------ encoding

    static byte[] message(int request, int flags, int size, byte[] payload) {
        return ByteBuffer.allocate(12 + payload.length).order(ByteOrder.nativeOrder())
                .putInt(request).putInt(flags).putInt(size).put(payload).array();
    }

    static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(v).array();
    }

    static byte[] state(int index, int num) {
        return ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putInt(index).putInt(num).array();
    }

    static byte[] addr(int index, int flags, long desc, long used, long avail) {
        return ByteBuffer.allocate(40).order(ByteOrder.nativeOrder())
                .putInt(index).putInt(flags).putLong(desc).putLong(used).putLong(avail).putLong(0).array();
    }

    /** A memory table payload: {guest address, size, user address, mmap offset} per region. */
    static byte[] memTable(long[]... regions) {
        ByteBuffer b = ByteBuffer.allocate(8 + 32 * regions.length).order(ByteOrder.nativeOrder());
        b.putInt(regions.length).putInt(0);
        for (long[] r : regions) {
            for (long v : r) {
                b.putLong(v);
            }
        }
        return b.array();
    }

    /** The memory table of {@code memory} (a memfd GuestMemory): its regions as this process maps them. */
    static byte[] memTable(GuestMemory memory) {
        return memTable(memory.regions().stream()
                .map(r -> new long[] {r.guestAddress(), r.size(), r.userAddress(), r.fileOffset()})
                .toArray(long[][]::new));
    }

    /** One dup of the memfd per region, as QEMU sends them. */
    static Fd[] memFds(GuestMemory memory) {
        Fd file = memory.file().orElseThrow();
        return memory.regions().stream().map(r -> file.dup()).toArray(Fd[]::new);
    }

    /** The front-end's user address of a guest address of {@code memory}. */
    static long user(GuestMemory memory, long gpa) {
        for (GuestMemory.Region r : memory.regions()) {
            if (Long.compareUnsigned(gpa, r.guestAddress()) >= 0 && Long.compareUnsigned(gpa, r.guestEnd()) < 0) {
                return r.userAddress() + (gpa - r.guestAddress());
            }
        }
        throw new IllegalArgumentException("0x" + Long.toHexString(gpa));
    }

    // ------------------------------------------------------------------ sending

    /** Sends raw bytes; {@code fds} travel with the first byte. The caller keeps its fds. */
    void sendRaw(byte[] bytes, Fd... fds) {
        int at = 0;
        while (at < bytes.length) {
            at += socket.send(bytes, at, bytes.length - at, at == 0 ? fds : new Fd[0]);
        }
    }

    void send(VhostUserRequest r, int flags, byte[] payload, Fd... fds) {
        sendRaw(message(r.code(), flags, payload.length, payload), fds);
    }

    /** Sends a request with version 1 and no other flag. */
    void send(VhostUserRequest r, byte[] payload, Fd... fds) {
        send(r, VERSION, payload, fds);
    }

    /** Sends a request that has a reply and returns it. */
    Reply call(VhostUserRequest r, byte[] payload) {
        send(r, payload);
        Reply reply = receive();
        assertEquals(r.code(), reply.request(), "reply to " + r);
        assertEquals(VERSION | REPLY, reply.flags());
        return reply;
    }

    /** Sends a request with NEED_REPLY and returns the REPLY_ACK status (0: success). */
    long ack(VhostUserRequest r, byte[] payload, Fd... fds) {
        send(r, VERSION | NEED_REPLY, payload, fds);
        Reply reply = receive();
        assertEquals(r.code(), reply.request(), "ack of " + r);
        return reply.u64();
    }

    // ------------------------------------------------------------------ receiving

    private void awaitReadable() {
        if (epoll.waitFor(1, TIMEOUT_MS).isEmpty()) {
            fail("no reply from the backend within " + TIMEOUT_MS + " ms");
        }
    }

    /** The next reply (fails the test on timeout or end of stream). */
    Reply receive() {
        byte[] header = readExactly(12);
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.nativeOrder());
        int request = h.getInt();
        int flags = h.getInt();
        int size = h.getInt();
        assertTrue(size >= 0 && size <= 4096, "reply size " + size);
        return new Reply(request, flags, readExactly(size));
    }

    private byte[] readExactly(int n) {
        byte[] b = new byte[n];
        int at = 0;
        while (at < n) {
            awaitReadable();
            UnixSocket.Received r = socket.receive(b, at, n - at, 0);
            if (r.bytes() < 0) {
                fail("the backend closed the connection after " + at + " of " + n + " bytes");
            }
            at += r.bytes();
        }
        return b;
    }

    /** Whether the backend closes the connection within {@code millis} (anything it sends first is skipped). */
    boolean closedByBackend(int millis) {
        long deadline = System.currentTimeMillis() + millis;
        byte[] sink = new byte[256];
        while (System.currentTimeMillis() < deadline) {
            if (epoll.waitFor(1, (int) Math.max(1, deadline - System.currentTimeMillis())).isEmpty()) {
                return false;
            }
            try {
                if (socket.receive(sink, 0, sink.length, 0).bytes() < 0) {
                    return true;
                }
            } catch (ErrnoException e) {
                return true; // ECONNRESET
            }
        }
        return false;
    }

    /** Whether the connection still answers: GET_FEATURES gets a reply. */
    boolean alive() {
        return call(VhostUserRequest.GET_FEATURES, new byte[0]).payload().length == 8;
    }

    @Override
    public void close() {
        epoll.close();
        socket.close();
    }

    @Override
    public String toString() {
        return "FakeFrontEnd" + Arrays.toString(new Object[] {socket});
    }

    static List<Fd> eventfds(int n) {
        return java.util.stream.IntStream.range(0, n)
                .mapToObj(i -> dev.kava.linux.SystemCalls.eventfd(0, dev.kava.linux.SystemCalls.EFD_CLOEXEC
                        | dev.kava.linux.SystemCalls.EFD_NONBLOCK))
                .toList();
    }
}
