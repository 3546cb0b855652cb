package dev.kava.vmm.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The i8042 as Linux probes it (i8042.c) and reboots through it ({@code reboot=k}). */
class I8042Test {
    private final AtomicInteger resets = new AtomicInteger();
    private final I8042 kbc = new I8042(resets::incrementAndGet);

    private int status() {
        byte[] b = new byte[1];
        kbc.read(4, b);
        return b[0] & 0xff;
    }

    private int data() {
        byte[] b = new byte[1];
        kbc.read(0, b);
        return b[0] & 0xff;
    }

    private void command(int c) {
        kbc.write(4, new byte[] {(byte) c});
    }

    @Test
    void linuxProbeSequence() {
        assertEquals(0, status() & I8042.STATUS_OUTPUT_FULL, "nothing to flush");
        command(I8042.CMD_SELF_TEST);
        assertEquals(I8042.STATUS_OUTPUT_FULL, status() & I8042.STATUS_OUTPUT_FULL);
        assertEquals(0x55, data(), "self-test passed");
        command(I8042.CMD_READ_CTR);
        int ctr = data();
        command(I8042.CMD_WRITE_CTR);
        kbc.write(0, new byte[] {(byte) (ctr | 0x01)});
        command(I8042.CMD_READ_CTR);
        assertEquals(ctr | 0x01, data(), "the control register holds what was written");
        assertEquals(0, resets.get());
    }

    @Test
    void commandFeResetsTheMachine() {
        // kb_wait(): input buffer empty, then the pulse
        assertEquals(0, status() & 0x02);
        command(I8042.CMD_RESET_CPU);
        assertEquals(1, resets.get());
    }

    @Test
    void clearingTheResetLineThroughTheOutputPortAlsoResets() {
        command(I8042.CMD_WRITE_OUTPUT_PORT);
        kbc.write(0, new byte[] {0x02});
        assertEquals(1, resets.get());
    }

    @Test
    void unknownCommandsAndWidthsDoNothing() {
        for (int c = 0; c < 256; c++) {
            if (c != I8042.CMD_RESET_CPU && c != I8042.CMD_WRITE_OUTPUT_PORT && c != I8042.CMD_WRITE_CTR) {
                command(c);
            }
        }
        for (int i = 0; i < 100; i++) {
            kbc.write(0, new byte[] {(byte) 0xff});
        }
        kbc.write(4, new byte[] {(byte) 0xfe, 0});
        assertEquals(0, resets.get());
        int drained = 0;
        while ((status() & 1) != 0 && drained < 1000) {
            data();
            drained++;
        }
        assertEquals(16, drained, "the output buffer is bounded");
    }
}
