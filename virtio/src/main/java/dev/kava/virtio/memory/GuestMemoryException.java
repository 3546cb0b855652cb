package dev.kava.virtio.memory;

/**
 * An access to guest memory that {@link GuestMemory} refused: the range is not (entirely) inside
 * one mapped region, its length is negative or overflows, a region description is invalid, or the
 * memory is closed. Nothing was read or written when this is thrown.
 */
public final class GuestMemoryException extends Exception {
    private static final long serialVersionUID = 1L;

    private final long address;
    private final long length;

    public GuestMemoryException(String message, long address, long length) {
        super(message);
        this.address = address;
        this.length = length;
    }

    /** The (guest physical or user) address of the refused access. */
    public long address() {
        return address;
    }

    /** The length of the refused access in bytes. */
    public long length() {
        return length;
    }
}
