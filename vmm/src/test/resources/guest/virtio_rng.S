# virtio_rng: a minimal virtio-mmio driver for the virtio-rng device in the first window
# (0xd0000000): checks magic/version/device id, negotiates VIRTIO_F_VERSION_1 (FEATURES_OK must
# stick), sets up queue 0 with 8 entries (descriptors 0x200000, avail 0x201000, used 0x202000),
# posts one 16-byte device-writable buffer at 0x203000, notifies (a 32-bit write of 0 to
# QueueNotify: the VMM's ioeventfd takes it, no exit), spins until the used index is 1, then prints
# "OK\n" on the serial port ("F<n>\n" at the step n that failed) and halts.
        .code64
        .text
        .globl _start
_start:
        mov     $0xd0000000, %ebx
        mov     $'1', %sil
        cmpl    $0x74726976, 0x00(%rbx)     # MagicValue "virt"
        jne     fail
        mov     $'2', %sil
        cmpl    $2, 0x04(%rbx)              # Version 2
        jne     fail
        mov     $'3', %sil
        cmpl    $4, 0x08(%rbx)              # DeviceID 4: entropy
        jne     fail
        movl    $0, 0x70(%rbx)              # Status: reset
        movl    $1, 0x70(%rbx)              # ACKNOWLEDGE
        movl    $3, 0x70(%rbx)              # + DRIVER
        movl    $1, 0x14(%rbx)              # DeviceFeaturesSel 1
        mov     $'4', %sil
        testl   $1, 0x10(%rbx)              # VERSION_1 (bit 32) offered?
        jz      fail
        movl    $1, 0x24(%rbx)              # DriverFeaturesSel 1
        movl    $1, 0x20(%rbx)              # DriverFeatures: VERSION_1
        movl    $0, 0x24(%rbx)              # DriverFeaturesSel 0
        movl    $0, 0x20(%rbx)              # nothing else
        movl    $0xb, 0x70(%rbx)            # + FEATURES_OK
        mov     $'5', %sil
        testl   $8, 0x70(%rbx)              # did it stick?
        jz      fail
        movl    $0, 0x30(%rbx)              # QueueSel 0
        mov     $'6', %sil
        cmpl    $8, 0x34(%rbx)              # QueueNumMax >= 8
        jb      fail
        movl    $8, 0x38(%rbx)              # QueueNum 8
        movl    $0x200000, 0x80(%rbx)       # QueueDescLow
        movl    $0, 0x84(%rbx)
        movl    $0x201000, 0x90(%rbx)       # QueueDriverLow (avail)
        movl    $0, 0x94(%rbx)
        movl    $0x202000, 0xa0(%rbx)       # QueueDeviceLow (used)
        movl    $0, 0xa4(%rbx)
        movl    $1, 0x44(%rbx)              # QueueReady
        movl    $0xf, 0x70(%rbx)            # + DRIVER_OK
        mov     $'7', %sil
        testl   $0x40, 0x70(%rbx)           # DEVICE_NEEDS_RESET?
        jnz     fail
        movq    $0x203000, 0x200000         # desc[0].addr
        movl    $16, 0x200008               # desc[0].len
        movw    $2, 0x20000c                # desc[0].flags: WRITE
        movw    $0, 0x20000e                # desc[0].next
        movw    $0, 0x201000                # avail.flags
        movw    $0, 0x201004                # avail.ring[0] = descriptor 0
        movw    $1, 0x201002                # avail.idx = 1 (x86 keeps stores in order)
        movl    $0, 0x50(%rbx)              # QueueNotify: queue 0
1:      pause
        cmpw    $1, 0x202002                # used.idx
        jne     1b
        mov     $0x0a4b4f, %eax             # "OK\n"
        jmp     print
fail:   movzbl  %sil, %eax
        shl     $8, %eax
        or      $0x0a0046, %eax             # "F<n>\n"
print:  mov     $0x3f8, %dx
2:      out     %al, %dx
        shr     $8, %eax
        jnz     2b
        cli
3:      hlt
        jmp     3b
