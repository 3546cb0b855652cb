package dev.kava.vmm.mmio;

import dev.kava.linux.Epoll;
import dev.kava.linux.Fd;
import dev.kava.linux.SystemCalls;
import dev.kava.virtio.device.ActiveQueue;
import dev.kava.virtio.device.DeviceContext;
import dev.kava.virtio.device.DeviceEventLoop;
import dev.kava.virtio.device.EventHandler;
import dev.kava.virtio.device.EventRegistry;
import dev.kava.virtio.device.Features;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.device.VirtioInterrupt;
import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.queue.QueueLayout;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;
import dev.kava.vmm.bus.BusDevice;
import dev.kava.vmm.bus.InterruptLine;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The virtio-mmio transport, version 2 (virtio 1.2 §4.2.2): the register file one
 * {@link VirtioDevice} shows the guest in its MMIO window, and the glue between it and the VM
 * (queue notifications as eventfds, interrupts on an {@link InterruptLine}).
 *
 * <h2>How a driver uses it</h2>
 * Magic, version 2, device and vendor ids; status ACKNOWLEDGE then DRIVER; device features by
 * 32-bit halves (DeviceFeaturesSel), driver features likewise; FEATURES_OK, which the transport
 * keeps only if the driver's features are a subset of the offer, include VIRTIO_F_VERSION_1 and
 * the device accepts them (otherwise the bit reads back clear: the driver must give up); per queue
 * QueueSel, QueueNumMax, QueueNum, the three ring addresses, QueueReady; DRIVER_OK, which
 * activates the device. QueueNotify notifies, InterruptStatus / InterruptACK report and
 * acknowledge interrupts, Status 0 resets, ConfigGeneration changes with the config space.
 *
 * <h2>Notifications and interrupts</h2>
 * Each queue has an eventfd; the VMM registers it with {@code KVM_IOEVENTFD} on QueueNotify (data
 * match: the queue index), so a notification never leaves the kernel, and the device event loop
 * runs the device when it fires. A QueueNotify that does exit (another value, or no ioeventfd)
 * signals the same eventfd. Interrupts set InterruptStatus bits and raise an edge on the line.
 *
 * <h2>The guest is hostile</h2>
 * {@link #read} and {@link #write} are what the vCPU exit handler calls with guest-chosen offsets,
 * widths and values: registers answer only naturally aligned 32-bit accesses (others read zero and
 * are ignored), config-space accesses are bounds-checked against the device's config size, queue
 * registers cannot be changed while a queue is ready, status bits are only ever added (clearing is
 * a reset, by writing 0), features beyond the offer are refused, and ring addresses are validated
 * against guest memory when the device is activated; a bad ring sets DEVICE_NEEDS_RESET. A device
 * method that throws (a bug) is contained the same way. Thread-safe: register accesses from vCPUs
 * and device work on the event loop are serialized by this object's lock.
 */
public final class MmioTransport implements BusDevice, VirtioInterrupt, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(MmioTransport.class.getName());

    public static final int MAGIC_VALUE = 0x74726976; // "virt"
    public static final int VERSION = 2;
    public static final int VENDOR_ID = 0x4156414b; // "KAVA"
    /** Register offsets, named after {@code <linux/virtio_mmio.h>}'s {@code VIRTIO_MMIO_*}. */
    public static final int MAGIC = 0x000;
    public static final int VERSION_REG = 0x004;
    public static final int DEVICE_ID = 0x008;
    public static final int VENDOR_ID_REG = 0x00c;
    public static final int DEVICE_FEATURES = 0x010;
    public static final int DEVICE_FEATURES_SEL = 0x014;
    public static final int DRIVER_FEATURES = 0x020;
    public static final int DRIVER_FEATURES_SEL = 0x024;
    public static final int QUEUE_SEL = 0x030;
    public static final int QUEUE_NUM_MAX = 0x034;
    public static final int QUEUE_NUM = 0x038;
    public static final int QUEUE_READY = 0x044;
    public static final int QUEUE_NOTIFY = 0x050;
    public static final int INTERRUPT_STATUS = 0x060;
    public static final int INTERRUPT_ACK = 0x064;
    public static final int STATUS = 0x070;
    public static final int QUEUE_DESC_LOW = 0x080;
    public static final int QUEUE_DESC_HIGH = 0x084;
    public static final int QUEUE_AVAIL_LOW = 0x090;
    public static final int QUEUE_AVAIL_HIGH = 0x094;
    public static final int QUEUE_USED_LOW = 0x0a0;
    public static final int QUEUE_USED_HIGH = 0x0a4;
    public static final int SHM_SEL = 0x0ac;
    public static final int SHM_LEN_LOW = 0x0b0;
    public static final int SHM_LEN_HIGH = 0x0b4;
    public static final int SHM_BASE_LOW = 0x0b8;
    public static final int SHM_BASE_HIGH = 0x0bc;
    public static final int CONFIG_GENERATION = 0x0fc;
    public static final int CONFIG = 0x100;
    /** InterruptStatus bits. */
    public static final int INT_VRING = 1;
    public static final int INT_CONFIG = 2;
    /** Device status bits (virtio 1.2 §2.1). */
    public static final int S_ACKNOWLEDGE = 1;
    public static final int S_DRIVER = 2;
    public static final int S_DRIVER_OK = 4;
    public static final int S_FEATURES_OK = 8;
    public static final int S_DEVICE_NEEDS_RESET = 0x40;
    public static final int S_FAILED = 0x80;

    /** What the driver configured for one queue. */
    private static final class QueueRegisters {
        int num;
        boolean ready;
        long desc;
        long avail;
        long used;
    }

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final DeviceEventLoop loop;
    private final InterruptLine irq;
    private final long offered;
    private final QueueRegisters[] queues;
    private final Fd[] notifyFds;
    private final Set<Fd> deviceFds = Collections.newSetFromMap(new IdentityHashMap<>());
    private int deviceFeaturesSel;
    private int driverFeaturesSel;
    private long driverFeatures;
    private int queueSel;
    private int status;
    private volatile int interruptStatus;
    private int configGeneration;
    private boolean active;
    private boolean broken;
    /** Increments on every reset: handlers of an earlier activation do nothing. */
    private int generation;
    private long notifications;
    private String resetReason;

    /**
     * A transport for {@code device} (which it owns from now on) over {@code memory}, with its
     * queue notifications and back-end events on {@code loop} and its interrupts on {@code irq}.
     */
    public MmioTransport(VirtioDevice device, GuestMemory memory, DeviceEventLoop loop, InterruptLine irq) {
        this.device = Objects.requireNonNull(device, "device");
        this.memory = Objects.requireNonNull(memory, "memory");
        this.loop = Objects.requireNonNull(loop, "loop");
        this.irq = Objects.requireNonNull(irq, "irq");
        this.offered = device.deviceFeatures() | Features.TRANSPORT_OFFERED;
        int n = device.queueCount();
        this.queues = new QueueRegisters[n];
        this.notifyFds = new Fd[n];
        try {
            for (int i = 0; i < n; i++) {
                queues[i] = new QueueRegisters();
                notifyFds[i] = SystemCalls.eventfd(0, SystemCalls.EFD_CLOEXEC | SystemCalls.EFD_NONBLOCK);
                int q = i;
                loop.add(notifyFds[i], Epoll.EPOLLIN, ev -> onNotify(q));
            }
        } catch (RuntimeException e) {
            for (Fd fd : notifyFds) {
                if (fd != null) {
                    loop.remove(fd);
                    fd.close();
                }
            }
            throw e;
        }
    }

    public VirtioDevice device() {
        return device;
    }

    /** The eventfd that notifies queue {@code queue}: register it with KVM_IOEVENTFD at base + {@link #QUEUE_NOTIFY}. */
    public Fd queueNotifyFd(int queue) {
        return notifyFds[queue];
    }

    public int queueCount() {
        return queues.length;
    }

    /** The device status register. */
    public synchronized int status() {
        return status;
    }

    /** Notifications handled so far (whether they came through an ioeventfd or an MMIO exit). */
    public synchronized long notifications() {
        return notifications;
    }

    /** Why the device asked for a reset, or null. */
    public synchronized String resetReason() {
        return resetReason;
    }

    // ---------------------------------------------------------------- the register file

    @Override
    public synchronized void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0);
        if (offset >= CONFIG) {
            long at = offset - CONFIG;
            if (validConfigAccess(at, data.length)) {
                try {
                    device.readConfig((int) at, data);
                } catch (RuntimeException e) {
                    contain("readConfig", e);
                }
            }
            return;
        }
        if (data.length != 4 || (offset & 3) != 0 || offset < 0) {
            return;
        }
        int v = switch ((int) offset) {
            case MAGIC -> MAGIC_VALUE;
            case VERSION_REG -> VERSION;
            case DEVICE_ID -> device.type().id();
            case VENDOR_ID_REG -> VENDOR_ID;
            case DEVICE_FEATURES -> switch (deviceFeaturesSel) {
                case 0 -> (int) offered;
                case 1 -> (int) (offered >>> 32);
                default -> 0;
            };
            case QUEUE_NUM_MAX -> queueSel < queues.length ? device.maxQueueSize() : 0;
            case QUEUE_READY -> queueSel < queues.length && queues[queueSel].ready ? 1 : 0;
            case INTERRUPT_STATUS -> interruptStatus;
            case STATUS -> status;
            case CONFIG_GENERATION -> configGeneration;
            case SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH -> -1; // no shared memory regions
            default -> 0;
        };
        putInt(data, v);
    }

    @Override
    public void write(long offset, byte[] data) {
        if (offset >= CONFIG) {
            synchronized (this) {
                long at = offset - CONFIG;
                if (validConfigAccess(at, data.length) && (status & S_FAILED) == 0) {
                    try {
                        device.writeConfig((int) at, data.clone());
                    } catch (RuntimeException e) {
                        contain("writeConfig", e);
                    }
                }
            }
            return;
        }
        if (data.length != 4 || (offset & 3) != 0 || offset < 0) {
            return;
        }
        int v = getInt(data);
        if (offset == QUEUE_NOTIFY) {
            // outside the lock: the device runs on the event loop, never on the vCPU
            if (Integer.compareUnsigned(v, queues.length) < 0) {
                signal(notifyFds[v]);
            }
            return;
        }
        synchronized (this) {
            writeRegister((int) offset, v);
        }
    }

    private void writeRegister(int offset, int v) {
        QueueRegisters q = queueSel < queues.length ? queues[queueSel] : null;
        // queue registers may change only while the queue is not ready and before DRIVER_OK
        boolean queueWritable = q != null && !q.ready && (status & S_DRIVER_OK) == 0;
        switch (offset) {
            case DEVICE_FEATURES_SEL -> deviceFeaturesSel = v;
            case DRIVER_FEATURES -> {
                if ((status & (S_FEATURES_OK | S_DRIVER_OK)) == 0) {
                    if (driverFeaturesSel == 0) {
                        driverFeatures = (driverFeatures & 0xffff_ffff_0000_0000L) | Integer.toUnsignedLong(v);
                    } else if (driverFeaturesSel == 1) {
                        driverFeatures = (driverFeatures & 0xffff_ffffL) | ((long) v << 32);
                    }
                }
            }
            case DRIVER_FEATURES_SEL -> driverFeaturesSel = v;
            case QUEUE_SEL -> queueSel = v < 0 ? Integer.MAX_VALUE : v;
            case QUEUE_NUM -> {
                if (queueWritable) {
                    q.num = v;
                }
            }
            case QUEUE_READY -> {
                if (q != null && (status & S_DRIVER_OK) == 0) {
                    q.ready = (v & 1) != 0;
                }
            }
            case QUEUE_DESC_LOW -> { if (queueWritable) q.desc = low(q.desc, v); }
            case QUEUE_DESC_HIGH -> { if (queueWritable) q.desc = high(q.desc, v); }
            case QUEUE_AVAIL_LOW -> { if (queueWritable) q.avail = low(q.avail, v); }
            case QUEUE_AVAIL_HIGH -> { if (queueWritable) q.avail = high(q.avail, v); }
            case QUEUE_USED_LOW -> { if (queueWritable) q.used = low(q.used, v); }
            case QUEUE_USED_HIGH -> { if (queueWritable) q.used = high(q.used, v); }
            case INTERRUPT_ACK -> interruptStatus &= ~v;
            case STATUS -> setStatus(v & 0xff);
            default -> {
                // read-only registers and unknown offsets: ignored
            }
        }
    }

    private void setStatus(int v) {
        if (v == 0) {
            reset();
            return;
        }
        int added = v & ~status;
        // the driver only ever adds bits (virtio 1.2 §2.1.1); the order of the handshake is enforced
        if ((added & S_ACKNOWLEDGE) != 0) {
            status |= S_ACKNOWLEDGE;
        }
        if ((added & S_DRIVER) != 0 && (status & S_ACKNOWLEDGE) != 0) {
            status |= S_DRIVER;
        }
        if ((added & S_FAILED) != 0) {
            status |= S_FAILED;
        }
        if ((added & S_FEATURES_OK) != 0 && (status & S_DRIVER) != 0 && featuresAcceptable()) {
            status |= S_FEATURES_OK;
        }
        if ((added & S_DRIVER_OK) != 0 && (status & S_FEATURES_OK) != 0 && (status & S_FAILED) == 0) {
            status |= S_DRIVER_OK;
            activate();
        }
    }

    /** The driver's features are a subset of the offer, include VERSION_1, and the device agrees. */
    private boolean featuresAcceptable() {
        if ((driverFeatures & ~offered) != 0 || !Features.has(driverFeatures, Features.VERSION_1)) {
            return false;
        }
        try {
            return device.acceptsFeatures(driverFeatures);
        } catch (RuntimeException e) {
            contain("acceptsFeatures", e);
            return false;
        }
    }

    private void activate() {
        List<ActiveQueue> active = new ArrayList<>(queues.length);
        for (int i = 0; i < queues.length; i++) {
            QueueRegisters q = queues[i];
            Virtqueue vq = null;
            if (q.ready) {
                if (q.num <= 0 || q.num > device.maxQueueSize()) {
                    needsReset("queue " + i + ": size " + q.num + " is not in 1.." + device.maxQueueSize());
                    return;
                }
                try {
                    vq = Virtqueue.create(memory, new QueueLayout(q.num, q.desc, q.avail, q.used), driverFeatures);
                } catch (VirtqueueException e) {
                    needsReset("queue " + i + ": " + e.getMessage());
                    return;
                }
            }
            active.add(new ActiveQueue(i, vq, memory, this));
        }
        this.active = true;
        int gen = generation;
        try {
            device.activate(new DeviceContext(driverFeatures, memory, active, this, new Registry(gen)));
        } catch (RuntimeException e) {
            contain("activate", e);
        }
    }

    /** Status 0: the device and the transport back to their initial state. */
    private void reset() {
        generation++;
        if (active) {
            try {
                device.reset();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "virtio device reset failed", e);
            }
        }
        for (Fd fd : deviceFds) {
            loop.remove(fd);
        }
        deviceFds.clear();
        active = false;
        broken = false;
        resetReason = null;
        status = 0;
        driverFeatures = 0;
        deviceFeaturesSel = 0;
        driverFeaturesSel = 0;
        queueSel = 0;
        interruptStatus = 0;
        for (int i = 0; i < queues.length; i++) {
            queues[i] = new QueueRegisters();
        }
    }

    private boolean validConfigAccess(long at, int len) {
        return (len == 1 || len == 2 || len == 4 || len == 8) && at >= 0 && at + len <= device.configSize();
    }

    // ---------------------------------------------------------------- notifications

    private void onNotify(int queue) {
        drain(notifyFds[queue]);
        synchronized (this) {
            notifications++;
            if (!active || broken) {
                return;
            }
            try {
                device.queueNotify(queue);
            } catch (RuntimeException | InternalError e) {
                contain("queueNotify(" + queue + ")", e);
            }
        }
    }

    /** The device's own descriptors, registered on the loop with handlers that run under this lock. */
    private final class Registry implements EventRegistry {
        private final int gen;

        Registry(int gen) {
            this.gen = gen;
        }

        @Override
        public void add(Fd fd, int events, EventHandler handler) {
            synchronized (MmioTransport.this) {
                loop.add(fd, events, ev -> {
                    synchronized (MmioTransport.this) {
                        if (gen != generation || !active || broken) {
                            return;
                        }
                        try {
                            handler.onEvent(ev);
                        } catch (RuntimeException | InternalError e) {
                            contain("event handler", e);
                        }
                    }
                });
                deviceFds.add(fd);
            }
        }

        @Override
        public void modify(Fd fd, int events) {
            loop.modify(fd, events);
        }

        @Override
        public void remove(Fd fd) {
            synchronized (MmioTransport.this) {
                deviceFds.remove(fd);
                loop.remove(fd);
            }
        }
    }

    // ---------------------------------------------------------------- VirtioInterrupt

    @Override
    public void usedBuffers(int queue) {
        synchronized (this) {
            interruptStatus |= INT_VRING;
        }
        irq.trigger();
    }

    @Override
    public void configChanged() {
        synchronized (this) {
            configGeneration++;
            interruptStatus |= INT_CONFIG;
        }
        irq.trigger();
    }

    @Override
    public void needsReset(String reason) {
        synchronized (this) {
            if (broken) {
                return;
            }
            broken = true;
            resetReason = reason;
            status |= S_DEVICE_NEEDS_RESET;
            interruptStatus |= INT_CONFIG;
        }
        LOG.log(System.Logger.Level.WARNING, "virtio-" + device.type().name().toLowerCase() + " needs a reset: " + reason);
        irq.trigger();
    }

    /** A device method threw: a bug, contained as DEVICE_NEEDS_RESET rather than reaching the vCPU. */
    private void contain(String what, Throwable e) {
        LOG.log(System.Logger.Level.ERROR, "virtio device " + what + " failed", e);
        needsReset("device " + what + " failed: " + e);
    }

    // ---------------------------------------------------------------- helpers

    private static void signal(Fd eventfd) {
        SystemCalls.eventfdSignal(eventfd); // closed (VM teardown) or saturated: cannot matter more
    }

    private static void drain(Fd eventfd) {
        SystemCalls.eventfdDrain(eventfd);
    }

    private static long low(long old, int v) {
        return (old & 0xffff_ffff_0000_0000L) | Integer.toUnsignedLong(v);
    }

    private static long high(long old, int v) {
        return (old & 0xffff_ffffL) | ((long) v << 32);
    }

    private static int getInt(byte[] b) {
        return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
    }

    private static void putInt(byte[] b, int v) {
        b[0] = (byte) v;
        b[1] = (byte) (v >> 8);
        b[2] = (byte) (v >> 16);
        b[3] = (byte) (v >> 24);
    }

    /** Resets the device, stops watching the notification eventfds, closes them and the device. */
    @Override
    public void close() {
        synchronized (this) {
            reset();
            for (Fd fd : notifyFds) {
                loop.remove(fd);
                fd.close();
            }
        }
        device.close();
    }
}
