package dev.kava.virtio.queue;

/**
 * The guest broke the split-ring rules (virtio 1.2 §2.7), or a ring is not usable. The
 * {@link #reason()} says which rule; {@link #head()} is the head of the chain that was consumed
 * from the available ring, or -1 when none was.
 *
 * <p>What a device does with it: a {@link Reason#fatal() fatal} reason means the queue cannot
 * go on (the device sets DEVICE_NEEDS_RESET, virtio 1.2 §2.1.2; a vhost-user back-end signals the
 * ring's error eventfd); {@link Virtqueue#pop} keeps throwing it until the queue is created anew.
 * Otherwise the bad chain has been taken off the available ring and the queue can go on: the
 * device may return it with {@code addUsed(head, 0)} (when {@code head >= 0}) and continue, or
 * treat the error as fatal as well.
 */
public final class VirtqueueException extends Exception {
    private static final long serialVersionUID = 1L;

    /** The broken rule. */
    public enum Reason {
        /** Queue size not a power of 2, or too large; a ring misaligned or not inside guest memory. */
        INVALID_LAYOUT(true),
        /** The available index moved ahead of the device by more than the queue size. */
        AVAIL_INDEX_JUMP(true),
        /** A ring that was inside guest memory at creation no longer is (memory was replaced). */
        RING_NOT_ACCESSIBLE(true),
        /** An available ring entry names a descriptor beyond the table. */
        HEAD_OUT_OF_RANGE(false),
        /** A descriptor's {@code next} points beyond the descriptor table. */
        NEXT_OUT_OF_RANGE(false),
        /** More descriptors than the queue size (or than the indirect table holds): a loop. */
        CHAIN_TOO_LONG(false),
        /** A device-readable descriptor after a device-writable one. */
        READABLE_AFTER_WRITABLE(false),
        /** A buffer (or an indirect table) is not inside guest memory. */
        ADDRESS_OUT_OF_RANGE(false),
        /** A buffer of length 0 (QEMU refuses them too). */
        ZERO_LENGTH(false),
        /** The chain's readable or writable bytes add up to more than 2^32 - 1. */
        LENGTH_OVERFLOW(false),
        /** INDIRECT used without VIRTIO_RING_F_INDIRECT_DESC negotiated. */
        INDIRECT_NOT_NEGOTIATED(false),
        /** A descriptor with both INDIRECT and NEXT. */
        INDIRECT_WITH_NEXT(false),
        /** An indirect table whose length is 0 or not a multiple of 16. */
        INDIRECT_BAD_LENGTH(false),
        /** An indirect table with more entries than the queue size. */
        INDIRECT_TOO_LONG(false),
        /** INDIRECT inside an indirect table. */
        INDIRECT_NESTED(false),
        /** An indirect descriptor's {@code next} points beyond its table. */
        INDIRECT_NEXT_OUT_OF_RANGE(false);

        private final boolean fatal;

        Reason(boolean fatal) {
            this.fatal = fatal;
        }

        /** Whether the queue is unusable after this error (see the class comment). */
        public boolean fatal() {
            return fatal;
        }
    }

    private final Reason reason;
    private final int head;

    public VirtqueueException(Reason reason, int head, String detail) {
        super(reason + (head >= 0 ? " (chain " + head + ")" : "") + ": " + detail);
        this.reason = reason;
        this.head = head;
    }

    /** Which rule was broken. */
    public Reason reason() {
        return reason;
    }

    /** The head of the consumed bad chain, or -1 when no chain was consumed. */
    public int head() {
        return head;
    }
}
