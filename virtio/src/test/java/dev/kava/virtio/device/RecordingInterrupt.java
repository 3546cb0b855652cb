package dev.kava.virtio.device;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/** A {@link VirtioInterrupt} that records what a device reported, for tests. */
public final class RecordingInterrupt implements VirtioInterrupt {
    private final AtomicIntegerArray used = new AtomicIntegerArray(16);
    private final AtomicInteger configChanges = new AtomicInteger();
    private final List<String> resets = new CopyOnWriteArrayList<>();

    @Override
    public void usedBuffers(int queue) {
        used.incrementAndGet(queue);
    }

    @Override
    public void configChanged() {
        configChanges.incrementAndGet();
    }

    @Override
    public void needsReset(String reason) {
        resets.add(reason);
    }

    /** Used-buffer interrupts of {@code queue} so far. */
    public int used(int queue) {
        return used.get(queue);
    }

    public int configChanges() {
        return configChanges.get();
    }

    /** Reasons given with {@link #needsReset}, in order. */
    public List<String> resets() {
        return List.copyOf(resets);
    }
}
