# counter: prints "C", then increments a 64-bit counter at 0x400000 forever; the host pauses and
# resumes the VM and watches the counter stop and move.
        .code64
        .text
        .globl _start
_start:
        mov     $0x3f8, %dx
        mov     $'C', %al
        out     %al, %dx
        xor     %eax, %eax
1:      inc     %rax
        mov     %rax, 0x400000
        jmp     1b
