# i8042_reset: what Linux does for reboot=k: waits for the i8042 input buffer to be empty
# (status bit 1 clear), then writes command 0xfe (pulse the reset line) to port 0x64. The VMM
# ends the VM with a guest reset.
        .code64
        .text
        .globl _start
_start:
1:      in      $0x64, %al
        test    $2, %al
        jnz     1b
        mov     $0xfe, %al
        out     %al, $0x64
        cli
2:      hlt
        jmp     2b
