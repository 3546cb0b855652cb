package dev.kava.vmm.mmio;

import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.vmm.bus.BusDevice;
import java.util.ArrayList;
import java.util.List;

/**
 * What Linux's {@code drivers/virtio/virtio_mmio.c} does to a device, step by step, through the
 * same {@link BusDevice#read}/{@link BusDevice#write} calls the vCPU's MMIO exit handler makes:
 * 32-bit register accesses, the status handshake, features by halves, queue set-up, notify,
 * interrupt acknowledge. The rings live in the {@link GuestDriver}'s memory.
 */
final class LinuxMmioDriver {
    private final BusDevice regs;
    private final GuestDriver memory;
    final List<DriverQueue> queues = new ArrayList<>();

    LinuxMmioDriver(BusDevice regs, GuestDriver memory) {
        this.regs = regs;
        this.memory = memory;
    }

    int readl(int offset) {
        byte[] b = new byte[4];
        regs.read(offset, b);
        return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
    }

    void writel(int offset, int v) {
        regs.write(offset, new byte[] {(byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)});
    }

    int status() {
        return readl(MmioTransport.STATUS);
    }

    /** vm_set_status: the driver writes the whole register with the new bit added. */
    void addStatus(int bit) {
        writel(MmioTransport.STATUS, status() | bit);
    }

    void reset() {
        writel(MmioTransport.STATUS, 0);
    }

    long deviceFeatures() {
        writel(MmioTransport.DEVICE_FEATURES_SEL, 1);
        long high = Integer.toUnsignedLong(readl(MmioTransport.DEVICE_FEATURES));
        writel(MmioTransport.DEVICE_FEATURES_SEL, 0);
        long low = Integer.toUnsignedLong(readl(MmioTransport.DEVICE_FEATURES));
        return high << 32 | low;
    }

    void driverFeatures(long f) {
        writel(MmioTransport.DRIVER_FEATURES_SEL, 1);
        writel(MmioTransport.DRIVER_FEATURES, (int) (f >>> 32));
        writel(MmioTransport.DRIVER_FEATURES_SEL, 0);
        writel(MmioTransport.DRIVER_FEATURES, (int) f);
    }

    /** virtio_dev_probe up to FEATURES_OK; returns whether the device kept FEATURES_OK. */
    boolean negotiate(long wanted) {
        reset();
        addStatus(MmioTransport.S_ACKNOWLEDGE);
        addStatus(MmioTransport.S_DRIVER);
        driverFeatures(deviceFeatures() & wanted);
        addStatus(MmioTransport.S_FEATURES_OK);
        return (status() & MmioTransport.S_FEATURES_OK) != 0;
    }

    /** vm_setup_vq for queue {@code index} with {@code size} entries (at most QueueNumMax). */
    DriverQueue setupQueue(int index, int size) {
        writel(MmioTransport.QUEUE_SEL, index);
        if (readl(MmioTransport.QUEUE_READY) != 0) {
            throw new IllegalStateException("queue " + index + " already set up");
        }
        int max = readl(MmioTransport.QUEUE_NUM_MAX);
        if (max == 0) {
            throw new IllegalStateException("queue " + index + " does not exist");
        }
        DriverQueue q = memory.queue(Math.min(size, max));
        writel(MmioTransport.QUEUE_NUM, q.size());
        writeAddress(MmioTransport.QUEUE_DESC_LOW, q.layout().descriptorTable());
        writeAddress(MmioTransport.QUEUE_AVAIL_LOW, q.layout().availableRing());
        writeAddress(MmioTransport.QUEUE_USED_LOW, q.layout().usedRing());
        writel(MmioTransport.QUEUE_READY, 1);
        queues.add(q);
        return q;
    }

    void writeAddress(int lowRegister, long address) {
        writel(lowRegister, (int) address);
        writel(lowRegister + 4, (int) (address >>> 32));
    }

    void driverOk() {
        addStatus(MmioTransport.S_DRIVER_OK);
    }

    void notify(int queue) {
        writel(MmioTransport.QUEUE_NOTIFY, queue);
    }

    /** vm_interrupt: read InterruptStatus, acknowledge it, return it. */
    int interrupt() {
        int status = readl(MmioTransport.INTERRUPT_STATUS);
        writel(MmioTransport.INTERRUPT_ACK, status);
        return status;
    }

    /** vm_get for {@code len} bytes of config space at {@code offset}, as byte/word/dword accesses. */
    byte[] config(int offset, int len) {
        byte[] out = new byte[len];
        regs.read(MmioTransport.CONFIG + offset, out);
        return out;
    }
}
