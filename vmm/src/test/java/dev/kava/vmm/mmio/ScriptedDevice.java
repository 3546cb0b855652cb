package dev.kava.vmm.mmio;

import dev.kava.virtio.device.DeviceContext;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.device.VirtioDevice;
import java.util.ArrayList;
import java.util.List;

/** A device double that records what the transport did to it and can misbehave on demand. */
final class ScriptedDevice implements VirtioDevice {
    static final int REFUSED_BIT = 3;
    final List<String> calls = new ArrayList<>();
    final byte[] config = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    boolean throwOnNotify;
    DeviceContext context;

    @Override
    public DeviceType type() {
        return DeviceType.ENTROPY;
    }

    @Override
    public long deviceFeatures() {
        return (1L << REFUSED_BIT) | (1L << 5) | (1L << 45);
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int maxQueueSize() {
        return 64;
    }

    @Override
    public int configSize() {
        return config.length;
    }

    @Override
    public void readConfig(int offset, byte[] dst) {
        System.arraycopy(config, offset, dst, 0, dst.length);
    }

    @Override
    public void writeConfig(int offset, byte[] src) {
        calls.add("writeConfig " + offset + " " + src.length);
        System.arraycopy(src, 0, config, offset, src.length);
    }

    @Override
    public boolean acceptsFeatures(long features) {
        return (features & (1L << REFUSED_BIT)) == 0;
    }

    @Override
    public void activate(DeviceContext context) {
        this.context = context;
        calls.add("activate 0x" + Long.toHexString(context.features()) + " " + context.queues().size());
    }

    @Override
    public void queueNotify(int queue) {
        calls.add("notify " + queue);
        if (throwOnNotify) {
            throw new IllegalStateException("a device bug");
        }
    }

    @Override
    public void reset() {
        calls.add("reset");
        context = null;
    }

    @Override
    public void close() {
        calls.add("close");
    }
}
