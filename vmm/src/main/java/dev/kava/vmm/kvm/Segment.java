package dev.kava.vmm.kvm;

/**
 * A segment register as KVM holds it ({@code struct kvm_segment}): the descriptor cache, not the
 * GDT entry. {@code limit} is in bytes (already scaled by {@code g}).
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl, boolean db, boolean s,
                      boolean l, boolean g, boolean avl, boolean unusable) {
    /** A null, unusable segment. */
    public static Segment unusableSegment() {
        return new Segment(0, 0, 0, 0, false, 0, false, false, false, false, false, true);
    }
}
