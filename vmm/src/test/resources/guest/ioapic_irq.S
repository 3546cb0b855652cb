# ioapic_irq: receives an interrupt the host raises through an irqfd on GSI 5 (the first
# virtio-mmio device's line): installs an IDT (at 0x300000) with a handler for vector 0x30, masks
# the 8259 PIC, enables the local APIC (SVR), routes IOAPIC pin 5 to vector 0x30 (fixed, edge,
# active high, APIC 0), prints "R" when ready, then waits in sti;hlt. The handler prints "I" and
# sends the local APIC an EOI.
        .code64
        .text
        .globl _start
_start:
        lea     handler(%rip), %rax
        mov     $0x300000 + 0x30 * 16, %edi
        mov     %ax, (%rdi)                 # offset 15:0
        movw    $0x10, 2(%rdi)              # selector: __BOOT_CS
        movb    $0, 4(%rdi)                 # IST 0
        movb    $0x8e, 5(%rdi)              # present, DPL 0, 64-bit interrupt gate
        shr     $16, %rax
        mov     %ax, 6(%rdi)                # offset 31:16
        shr     $16, %rax
        mov     %eax, 8(%rdi)               # offset 63:32
        movl    $0, 12(%rdi)
        lidt    idtr(%rip)
        mov     $0xff, %al
        out     %al, $0x21                  # mask the master PIC
        out     %al, $0xa1                  # and the slave
        mov     $0xfee00000, %esi           # the local APIC (above 2 GiB: through a register,
        mov     $0xfec00000, %edi           # as disp32 would sign-extend), and the IOAPIC
        movl    $0x1ff, 0xf0(%rsi)          # LAPIC SVR: enable, spurious vector 0xff
        movl    $0x10 + 2 * 5, (%rdi)       # IOREGSEL: redirection entry 5, low
        movl    $0x30, 0x10(%rdi)           # IOWIN: vector 0x30, fixed, physical, edge, high, unmasked
        movl    $0x11 + 2 * 5, (%rdi)       # high half
        movl    $0, 0x10(%rdi)              # destination APIC 0
        mov     $0x3f8, %dx
        mov     $'R', %al
        out     %al, %dx
        sti
1:      hlt
        jmp     1b
handler:
        push    %rax
        push    %rdx
        mov     $0x3f8, %dx
        mov     $'I', %al
        out     %al, %dx
        push    %rsi
        mov     $0xfee00000, %esi
        movl    $0, 0xb0(%rsi)              # LAPIC EOI
        pop     %rsi
        pop     %rdx
        pop     %rax
        iretq
        .p2align 3
idtr:   .word   0xfff
        .quad   0x300000
