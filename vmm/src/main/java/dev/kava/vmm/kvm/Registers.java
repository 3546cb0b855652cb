package dev.kava.vmm.kvm;

/** The general-purpose registers, {@code struct kvm_regs}. */
public record Registers(long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
                        long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
                        long rip, long rflags) {
    /** Bit 1 of RFLAGS is reserved and always set. */
    public static final long RFLAGS_RESERVED = 0x2;

    /** All zero but the reserved RFLAGS bit, then the given instruction and stack pointers and RSI. */
    public static Registers of(long rip, long rsp, long rsi) {
        return new Registers(0, 0, 0, 0, rsi, 0, rsp, rsp, 0, 0, 0, 0, 0, 0, 0, 0, rip, RFLAGS_RESERVED);
    }
}
