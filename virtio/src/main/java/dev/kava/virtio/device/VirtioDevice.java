package dev.kava.virtio.device;

/**
 * A virtio device model as a transport drives it: what it offers, its configuration space, and
 * its queues once the driver has set it up. The same model serves every transport (the built-in
 * VMM's virtio-mmio, tests with the simulated guest driver).
 *
 * <h2>Lifecycle</h2>
 * Created with its back-end (a file, a tap, a socket path) but inert: no descriptor is watched and
 * no guest memory touched. {@link #activate} (the driver set DRIVER_OK) hands it the negotiated
 * features, guest memory and queues; from then on it handles {@link #queueNotify} and its
 * back-end's events until {@link #reset()}, which returns it to the created state (it may be
 * activated again). {@link #close()} releases the back-end for good.
 *
 * <h2>Threads</h2>
 * The transport serializes every call into a device, including the back-end event handlers
 * registered through {@link DeviceContext#events()}: a device is a state machine that is never
 * entered by two threads at once and needs no locking of its own. Calls may come from different
 * threads (a vCPU thread for configuration accesses, the event loop for notifications).
 *
 * <h2>The guest is hostile</h2>
 * Everything in guest memory is untrusted input: chains come validated from
 * {@link ActiveQueue#pop()}, and a device checks request contents (types, lengths, offsets)
 * before acting on them, answering malformed requests as its specification says (an error
 * status, a dropped packet, a reset connection) or, when it cannot go on, with
 * {@link VirtioInterrupt#needsReset}. No exception escapes a device method for anything the
 * guest did.
 */
public interface VirtioDevice extends AutoCloseable {
    /** The device type (its id on the transport). */
    DeviceType type();

    /**
     * The device-type feature bits offered (bits 0..23 and 41..63). The transport adds the
     * transport bits it implements ({@link Features#TRANSPORT_OFFERED}).
     */
    long deviceFeatures();

    /** How many queues the device has. */
    int queueCount();

    /** The largest size the driver may give each queue (a power of 2). */
    int maxQueueSize();

    /** Bytes of the device's configuration space. */
    int configSize();

    /**
     * Copies {@code dst.length} bytes of the configuration space from {@code offset}; the
     * transport guarantees {@code 0 <= offset} and {@code offset + dst.length <= configSize()}.
     */
    void readConfig(int offset, byte[] dst);

    /**
     * The driver wrote {@code src} at {@code offset} of the configuration space (same bounds as
     * {@link #readConfig}); read-only fields ignore writes.
     */
    void writeConfig(int offset, byte[] src);

    /** Whether the driver may use the negotiated {@code features}; false refuses FEATURES_OK. */
    boolean acceptsFeatures(long features);

    /** The driver set DRIVER_OK: start working with {@code context}. */
    void activate(DeviceContext context);

    /** The driver notified queue {@code queue} (0..queueCount-1): buffers are available. */
    void queueNotify(int queue);

    /**
     * Back to the created state: stop watching descriptors, drop connections and buffers held,
     * forget guest memory. Called by a driver's reset (status 0) and before {@link #close()}.
     */
    void reset();

    /** Releases the back-end (files, sockets, taps); the device is unusable afterwards. */
    @Override
    void close();
}
