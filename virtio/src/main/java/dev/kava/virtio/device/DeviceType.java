package dev.kava.virtio.device;

/** Virtio device types this code base knows (virtio 1.2 §5: "Device Types"), with their ids. */
public enum DeviceType {
    NET(1),
    BLOCK(2),
    CONSOLE(3),
    ENTROPY(4),
    BALLOON(5),
    VSOCK(19),
    FS(26);

    private final int id;

    DeviceType(int id) {
        this.id = id;
    }

    /** The device id the transport reports (virtio-mmio DeviceID). */
    public int id() {
        return id;
    }
}
