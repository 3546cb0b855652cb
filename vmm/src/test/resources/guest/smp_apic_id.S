# smp_apic_id: run by every vCPU at once; each prints the APIC id CPUID leaf 1 reports for it
# (EBX[31:24], set per vCPU by the VMM) as an ASCII digit, then halts.
        .code64
        .text
        .globl _start
_start:
        mov     $1, %eax
        cpuid
        shr     $24, %ebx
        lea     '0'(%rbx), %eax
        mov     $0x3f8, %dx
        out     %al, %dx
        cli
1:      hlt
        jmp     1b
