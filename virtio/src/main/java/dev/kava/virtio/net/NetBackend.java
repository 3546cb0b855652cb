package dev.kava.virtio.net;

import dev.kava.linux.Fd;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Where a virtio-net device's frames go and come from. Every frame is preceded by a 12-byte
 * {@code virtio_net_hdr} (virtio 1.x, with {@code num_buffers}), which the back-end passes on as is
 * (a tap with {@code IFF_VNET_HDR} does exactly that). Non-blocking: the device calls
 * {@link #read} and {@link #write} when epoll says {@link #fd()} is ready.
 */
public interface NetBackend extends AutoCloseable {
    /** The descriptor to watch: readable when a frame waits, writable when one can be sent. */
    Fd fd();

    /** Reads one frame (header first) into {@code dst}; returns its length, -1 when none waits. */
    long read(List<MemorySegment> dst);

    /**
     * Sends one frame (header first) gathered from {@code src}; returns the bytes taken, -1 when
     * the back-end cannot take it now. A frame the back-end refuses throws a
     * {@link dev.kava.linux.LinuxException}.
     */
    long write(List<MemorySegment> src);

    /** Which offloads the back-end may hand us unfinished ({@code Tap.TUN_F_*}): what the guest accepts. */
    void setOffload(int tunFlags);

    @Override
    void close();
}
