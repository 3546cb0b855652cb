package dev.kava.vmm.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The UART driven the way Linux's 8250 driver probes and uses it, through the bus interface. */
class Serial16550Test {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final AtomicInteger edges = new AtomicInteger();
    private final Serial16550 uart = new Serial16550(out, edges::incrementAndGet);

    private int in(int reg) {
        byte[] b = new byte[1];
        uart.read(reg, b);
        return b[0] & 0xff;
    }

    private void outb(int reg, int v) {
        uart.write(reg, new byte[] {(byte) v});
    }

    @Test
    void linuxAutoconfigFindsA16550A() {
        // autoconfig(): IER must hold 0 and then 0x0F
        int saved = in(Serial16550.IER);
        outb(Serial16550.IER, 0);
        assertEquals(0, in(Serial16550.IER) & 0x0f);
        outb(Serial16550.IER, 0x0f);
        assertEquals(0x0f, in(Serial16550.IER) & 0x0f);
        outb(Serial16550.IER, saved);
        // the scratch register holds what is written
        outb(Serial16550.SCR, 0xa5);
        assertEquals(0xa5, in(Serial16550.SCR));
        // with the FIFO enabled IIR bits 7:6 read 11: a 16550A
        outb(Serial16550.IIR_FCR, 0x01);
        assertEquals(3, in(Serial16550.IIR_FCR) >> 6);
        // loopback: MSR mirrors MCR's outputs
        outb(Serial16550.MCR, 0x10 | 0x0a); // LOOP | RTS | OUT2
        assertEquals(0x90, in(Serial16550.MSR) & 0xf0, "DCD and CTS");
        outb(Serial16550.MCR, 0x10 | 0x05); // LOOP | DTR | OUT1
        assertEquals(0x60, in(Serial16550.MSR) & 0xf0, "RI and DSR");
        outb(Serial16550.DATA, 'L');
        assertEquals(Serial16550.LSR_DR, in(Serial16550.LSR) & Serial16550.LSR_DR, "looped back into the receiver");
        assertEquals('L', in(Serial16550.DATA));
        assertEquals(0, out.size(), "nothing leaves the UART in loopback");
        outb(Serial16550.MCR, 0x08);
        assertEquals(0xb0, in(Serial16550.MSR), "carrier, DSR, CTS outside loopback");
    }

    @Test
    void theDivisorLatchShadowsDataAndIer() {
        outb(Serial16550.LCR, 0x80);
        outb(Serial16550.DATA, 0x01);
        outb(Serial16550.IER, 0x00);
        assertEquals(1, in(Serial16550.DATA), "DLL");
        assertEquals(0, in(Serial16550.IER), "DLM");
        outb(Serial16550.LCR, 0x03);
        assertEquals(0, out.size(), "the divisor write did not transmit");
        assertEquals(0x03, in(Serial16550.LCR));
    }

    @Test
    void transmittedBytesReachTheConsoleAndTheTransmitterIsAlwaysEmpty() {
        for (byte b : "hello\n".getBytes(StandardCharsets.US_ASCII)) {
            assertEquals(0x60, in(Serial16550.LSR) & 0x60, "THRE and TEMT");
            outb(Serial16550.DATA, b);
        }
        assertEquals("hello\n", out.toString(StandardCharsets.US_ASCII));
        assertEquals(6, uart.bytesOut());
    }

    @Test
    void thrEmptyInterruptsAreRaisedAndAcknowledgedThroughIir() {
        assertEquals(Serial16550.IIR_NONE, in(Serial16550.IIR_FCR) & 0x0f);
        outb(Serial16550.IER, Serial16550.IER_THRI);
        assertEquals(1, edges.get(), "enabling THRI while empty raises it");
        assertEquals(Serial16550.IIR_THRI, in(Serial16550.IIR_FCR) & 0x0f);
        assertEquals(Serial16550.IIR_NONE, in(Serial16550.IIR_FCR) & 0x0f, "reading IIR acknowledged it");
        outb(Serial16550.DATA, 'x');
        assertEquals(2, edges.get(), "a transmitted byte empties the THR again");
        assertEquals(Serial16550.IIR_THRI, in(Serial16550.IIR_FCR) & 0x0f);
    }

    @Test
    void receivedBytesRaiseDataInterruptsWithPriority() {
        outb(Serial16550.IER, Serial16550.IER_RDI | Serial16550.IER_THRI);
        in(Serial16550.IIR_FCR); // ack THRI
        int before = edges.get();
        assertEquals(3, uart.receive("abc".getBytes(StandardCharsets.US_ASCII), 0, 3));
        assertEquals(before + 1, edges.get());
        outb(Serial16550.DATA, 'z'); // THR empty pending too: received data comes first
        assertEquals(Serial16550.IIR_RDI, in(Serial16550.IIR_FCR) & 0x0f);
        assertEquals('a', in(Serial16550.DATA));
        assertEquals('b', in(Serial16550.DATA));
        assertEquals('c', in(Serial16550.DATA));
        assertEquals(0, in(Serial16550.LSR) & Serial16550.LSR_DR);
        assertEquals(Serial16550.IIR_THRI, in(Serial16550.IIR_FCR) & 0x0f, "then the THR");
    }

    @Test
    void theReceiveFifoIsBoundedAndSaysWhenItHasRoom() {
        AtomicInteger room = new AtomicInteger();
        uart.onReceiveRoom(room::incrementAndGet);
        byte[] lots = new byte[100];
        assertEquals(Serial16550.FIFO_SIZE, uart.receive(lots, 0, lots.length), "only what fits is taken");
        assertEquals(0, uart.receiveRoom());
        for (int i = 0; i < Serial16550.FIFO_SIZE; i++) {
            in(Serial16550.DATA);
        }
        assertEquals(1, room.get(), "told once the FIFO drained");
        outb(Serial16550.IIR_FCR, 0x02);
    }

    @Test
    void wrongWidthsAndOffsetsAreHarmless() {
        byte[] four = {1, 2, 3, 4};
        uart.read(0, four);
        assertEquals(0, four[0] | four[1] | four[2] | four[3]);
        uart.write(0, new byte[] {'a', 'b'});
        uart.write(8, new byte[] {'c'});
        uart.write(-1, new byte[] {'d'});
        assertEquals(0, out.size());
    }

    @Test
    void aBrokenConsoleDoesNotReachTheGuest() {
        Serial16550 broken = new Serial16550(new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("gone");
            }
        }, () -> { });
        broken.write(0, new byte[] {'x'});
        broken.write(0, new byte[] {'y'});
        byte[] lsr = new byte[1];
        broken.read(5, lsr);
        assertTrue((lsr[0] & 0x20) != 0, "still transmits (into nothing)");
    }
}
