package dev.kava.virtio.net;

import dev.kava.linux.Fd;
import dev.kava.linux.Tap;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/** A {@link NetBackend} on a {@link Tap}, which it owns, with a 12-byte vnet header. */
public final class TapBackend implements NetBackend {
    private final Tap tap;

    /** Uses {@code tap} (set to {@link VirtioNet#HEADER_BYTES}-byte headers here); closes it with this backend. */
    public TapBackend(Tap tap) {
        this.tap = Objects.requireNonNull(tap, "tap");
        tap.setVnetHeaderSize(VirtioNet.HEADER_BYTES);
        tap.setOffload(0);
    }

    public Tap tap() {
        return tap;
    }

    @Override
    public Fd fd() {
        return tap.fd();
    }

    @Override
    public long read(List<MemorySegment> dst) {
        return tap.readv(dst);
    }

    @Override
    public long write(List<MemorySegment> src) {
        return tap.writev(src);
    }

    @Override
    public void setOffload(int tunFlags) {
        tap.setOffload(tunFlags);
    }

    @Override
    public void close() {
        tap.close();
    }

    @Override
    public String toString() {
        return "TapBackend[" + tap.name() + "]";
    }
}
