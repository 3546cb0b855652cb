# long_mode_serial: proves the vCPU entered 64-bit mode with the boot code's page tables and GDT,
# and that port I/O to the 16550 at 0x3f8 reaches the host's console.
# Prints "KAVA" from a 64-bit immediate (in 32-bit mode the REX.W prefix would decode as
# "dec eax" and the bytes would differ), then " LM\n" if CR0.PG and EFER.LMA are set, else
# " NO\n"; then halts with interrupts off (the host stops the VM).
        .code64
        .text
        .globl _start
_start:
        movabs  $0x4156414b00000000, %rax   # "KAVA" in the upper half
        shr     $32, %rax
        mov     $0x3f8, %dx
        mov     $4, %ecx
1:      out     %al, %dx
        shr     $8, %eax
        dec     %ecx
        jnz     1b
        mov     %cr0, %rax
        bt      $31, %rax                   # CR0.PG
        jnc     no
        mov     $0xc0000080, %ecx           # IA32_EFER
        rdmsr
        bt      $10, %eax                   # EFER.LMA
        jnc     no
        mov     $0x0a4d4c20, %eax           # " LM\n"
        jmp     print
no:     mov     $0x0a4f4e20, %eax           # " NO\n"
print:  mov     $4, %ecx
2:      out     %al, %dx
        shr     $8, %eax
        dec     %ecx
        jnz     2b
        cli
3:      hlt
        jmp     3b
