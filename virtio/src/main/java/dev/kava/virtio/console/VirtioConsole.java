package dev.kava.virtio.console;

import dev.kava.linux.Epoll;
import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.virtio.device.ActiveQueue;
import dev.kava.virtio.device.Buffers;
import dev.kava.virtio.device.DeviceContext;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.device.EventRegistry;
import dev.kava.virtio.device.Features;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.queue.DescriptorChain;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * virtio-console (virtio 1.2 §5.3) with one port and no multiport control queue: what the guest
 * writes to {@code hvc0} goes to {@code output}; what {@code input} yields reaches the guest.
 *
 * <h2>Back-pressure</h2>
 * Output is non-blocking: when {@code output} (a pipe or socket) cannot take more, the device keeps
 * the transmit chain it is writing, stops taking chains, and waits for EPOLLOUT; the guest's
 * transmit queue fills and its writer blocks, as on a real line. A regular file always takes
 * everything. Input is read only while the guest has receive buffers posted; otherwise the
 * device stops watching {@code input} until the guest posts some.
 *
 * <h2>Hostile drivers</h2>
 * Transmit chains' writable buffers are ignored (used length 0), receive chains' readable buffers
 * likewise; a write to the emergency-write field outputs one byte. Nothing the guest writes sizes
 * a host allocation: copies go through a fixed {@link #CHUNK}-byte buffer.
 */
public final class VirtioConsole implements VirtioDevice {
    /** Queues: port 0 receive (host to guest) and transmit (guest to host). */
    public static final int RECEIVE_QUEUE = 0;
    public static final int TRANSMIT_QUEUE = 1;
    /** Feature bits. */
    public static final int F_SIZE = 0;
    public static final int F_MULTIPORT = 1;
    public static final int F_EMERG_WRITE = 2;
    /** struct virtio_console_config: cols u16, rows u16, max_nr_ports u32, emerg_wr u32. */
    public static final int CONFIG_SIZE = 12;
    static final int EMERG_WR_OFFSET = 8;
    public static final int QUEUE_SIZE = 256;
    static final int CHUNK = 16 * 1024;

    private final Fd output;
    private final Fd input;
    private final byte[] chunk = new byte[CHUNK];
    private DeviceContext context;
    private ActiveQueue rx;
    private ActiveQueue tx;
    private boolean outputWatched;
    private boolean inputWatched;
    private boolean inputPaused;
    private boolean inputEnded;
    private DescriptorChain pendingTx;
    private long pendingOffset;
    private boolean outputBroken;
    private long bytesOut;
    private long bytesIn;

    /**
     * A console writing to {@code output} and reading {@code input} (null: no input). The device
     * owns both descriptors (closes them in {@link #close()}) and makes them non-blocking.
     */
    public VirtioConsole(Fd output, Fd input) {
        this.output = Objects.requireNonNull(output, "output");
        this.input = input;
        output.setNonBlocking(true);
        if (input != null) {
            input.setNonBlocking(true);
        }
    }

    @Override
    public DeviceType type() {
        return DeviceType.CONSOLE;
    }

    @Override
    public long deviceFeatures() {
        return Features.bit(F_EMERG_WRITE);
    }

    @Override
    public int queueCount() {
        return 2;
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
        // cols, rows 0 (unknown); max_nr_ports 1; emerg_wr reads 0
        byte[] config = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .putShort((short) 0).putShort((short) 0).putInt(1).putInt(0).array();
        System.arraycopy(config, offset, dst, 0, dst.length);
    }

    @Override
    public void writeConfig(int offset, byte[] src) {
        if (offset == EMERG_WR_OFFSET && src.length >= 1) {
            writeOut(new byte[] {src[0]}, 0, 1);
        }
    }

    @Override
    public boolean acceptsFeatures(long features) {
        return !Features.has(features, F_MULTIPORT);
    }

    @Override
    public void activate(DeviceContext context) {
        this.context = context;
        this.rx = context.queue(RECEIVE_QUEUE);
        this.tx = context.queue(TRANSMIT_QUEUE);
        EventRegistry events = context.events();
        try {
            events.add(output, 0, this::onOutputReady);
            outputWatched = true;
        } catch (ErrnoException e) {
            // EPERM: a regular file, which never blocks and cannot be watched
            outputWatched = false;
        }
        if (input != null && !inputEnded) {
            events.add(input, Epoll.EPOLLIN, this::onInputReady);
            inputWatched = true;
            inputPaused = false;
        }
    }

    @Override
    public void queueNotify(int queue) {
        if (context == null) {
            return;
        }
        if (queue == TRANSMIT_QUEUE) {
            drainTransmit();
        } else if (queue == RECEIVE_QUEUE && inputPaused && inputWatched) {
            inputPaused = false;
            context.events().modify(input, Epoll.EPOLLIN);
            onInputReady(Epoll.EPOLLIN);
        }
    }

    private void drainTransmit() {
        boolean completed = false;
        while (true) {
            if (pendingTx == null) {
                pendingTx = tx.pop();
                pendingOffset = 0;
                if (pendingTx == null) {
                    break;
                }
            }
            DescriptorChain c = pendingTx;
            while (pendingOffset < c.readableLength()) {
                int n = Buffers.read(c.readable(), pendingOffset, chunk, 0, (int) Math.min(CHUNK, c.readableLength() - pendingOffset));
                int w = writeOut(chunk, 0, n);
                if (w < 0) {
                    // the output is full: wait for EPOLLOUT with this chain held
                    context.events().modify(output, Epoll.EPOLLOUT);
                    if (completed) {
                        tx.notifyDriver();
                    }
                    return;
                }
                pendingOffset += w;
            }
            tx.complete(c, 0);
            completed = true;
            pendingTx = null;
        }
        if (completed) {
            tx.notifyDriver();
        }
    }

    /** Writes to the output; returns the bytes taken, or -1 when it would block (then the caller waits). */
    private int writeOut(byte[] b, int off, int len) {
        if (outputBroken || len == 0) {
            return len;
        }
        try {
            int w = output.write(b, off, len);
            bytesOut += w;
            return w;
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EAGAIN && outputWatched) {
                return -1;
            }
            outputBroken = true; // EPIPE and friends: the reader is gone; drop what follows
            return len;
        } catch (LinuxException e) {
            outputBroken = true;
            return len;
        }
    }

    private void onOutputReady(int events) {
        context.events().modify(output, 0);
        drainTransmit();
    }

    private void onInputReady(int events) {
        boolean completed = false;
        while (true) {
            DescriptorChain c = heldRx != null ? heldRx : rx.pop();
            heldRx = null;
            if (c == null) {
                // no receive buffers: stop watching until the guest posts some
                inputPaused = true;
                context.events().modify(input, 0);
                break;
            }
            if (c.writableLength() == 0) {
                rx.complete(c, 0); // nothing can be written into it
                completed = true;
                continue;
            }
            int want = (int) Math.min(CHUNK, c.writableLength());
            int n;
            try {
                n = input.read(chunk, 0, want);
            } catch (ErrnoException e) {
                n = e.errno() == Errno.EAGAIN ? 0 : -1;
            } catch (LinuxException e) {
                n = -1;
            }
            if (n == 0) {
                heldRx = c; // nothing to read now: keep the buffer for the next input
                break;
            }
            if (n < 0) {
                // end of input (or an error): keep the buffer, stop watching for good
                heldRx = c;
                inputEnded = true;
                inputWatched = false;
                context.events().remove(input);
                break;
            }
            int w = Buffers.write(c.writable(), 0, chunk, 0, n);
            bytesIn += w;
            rx.complete(c, w);
            completed = true;
        }
        if (completed) {
            rx.notifyDriver();
        }
    }

    private DescriptorChain heldRx;

    /** Bytes the guest wrote to the console so far. */
    public long bytesOut() {
        return bytesOut;
    }

    /** Bytes handed to the guest so far. */
    public long bytesIn() {
        return bytesIn;
    }

    @Override
    public void reset() {
        if (context != null) {
            if (outputWatched) {
                context.events().remove(output);
            }
            if (input != null && inputWatched) {
                context.events().remove(input);
            }
        }
        context = null;
        rx = null;
        tx = null;
        pendingTx = null;
        heldRx = null;
        outputWatched = false;
        inputWatched = false;
        inputPaused = false;
    }

    @Override
    public void close() {
        reset();
        output.close();
        if (input != null) {
            input.close();
        }
    }
}
