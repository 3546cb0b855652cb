package dev.kava.vmm.legacy;

import dev.kava.vmm.bus.BusDevice;
import dev.kava.vmm.bus.InterruptLine;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.Objects;

/**
 * A 16550A UART at one I/O port range (8 registers), as Linux's 8250 driver probes and drives it:
 * divisor latch, IER, IIR/FCR with FIFO bits, LCR, MCR with loopback, LSR, MSR, scratch. What the
 * guest transmits goes to {@code output} at once (the transmitter is always empty); what the host
 * {@linkplain #receive queues} is received through a 64-byte FIFO.
 *
 * <h2>Interrupts</h2>
 * THR-empty (after a write to THR, or when enabled while empty) and received-data interrupts,
 * prioritised in IIR as on the real chip; each newly pending interrupt raises an edge on
 * {@code irq} (an irqfd into the IOAPIC).
 *
 * <h2>The guest is hostile</h2>
 * Every register access is a port exit with guest-chosen offset and value; accesses of other
 * widths than a byte read as zero, unknown bits are kept or dropped as the chip would, and the
 * output write blocking or failing never reaches the guest (a failed console drops its output).
 * Thread-safe: vCPUs and the console input handler may call it at once.
 */
public final class Serial16550 implements BusDevice {
    /** Registers (offsets from the base port). */
    static final int DATA = 0;
    static final int IER = 1;
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;
    public static final int PORTS = 8;
    /** The classic COM1 port and IRQ. */
    public static final int COM1_PORT = 0x3f8;
    public static final int COM1_IRQ = 4;
    public static final int FIFO_SIZE = 64;

    static final int IER_RDI = 0x01;
    static final int IER_THRI = 0x02;
    static final int IER_MASK = 0x0f;
    static final int IIR_NONE = 0x01;
    static final int IIR_THRI = 0x02;
    static final int IIR_RDI = 0x04;
    static final int IIR_FIFO = 0xc0;
    static final int LCR_DLAB = 0x80;
    static final int LSR_DR = 0x01;
    static final int LSR_THRE = 0x20;
    static final int LSR_TEMT = 0x40;
    static final int MCR_LOOP = 0x10;
    static final int MCR_MASK = 0x1f;
    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;

    private final OutputStream output;
    private final InterruptLine irq;
    private final ArrayDeque<Byte> rx = new ArrayDeque<>();
    private int ier;
    private int lcr = 0x03; // 8N1
    private int mcr = 0x08; // OUT2
    private int scr;
    private int dll = 0x0c; // 9600 baud
    private int dlm;
    private boolean thrEmptyPending;
    private boolean outputBroken;
    private long bytesOut;
    private Runnable onRoom;

    public Serial16550(OutputStream output, InterruptLine irq) {
        this.output = Objects.requireNonNull(output, "output");
        this.irq = Objects.requireNonNull(irq, "irq");
    }

    /** Called (on the guest's thread, without the serial's lock) when the receive FIFO has room again. */
    public synchronized void onReceiveRoom(Runnable listener) {
        this.onRoom = listener;
    }

    /** How many more bytes {@link #receive} takes now. */
    public synchronized int receiveRoom() {
        return FIFO_SIZE - rx.size();
    }

    /** Queues host input for the guest; returns how many bytes fit (the rest is the caller's to keep). */
    public int receive(byte[] data, int off, int len) {
        boolean raise;
        int taken;
        synchronized (this) {
            boolean before = interruptPending();
            taken = Math.min(len, FIFO_SIZE - rx.size());
            for (int i = 0; i < taken; i++) {
                rx.add(data[off + i]);
            }
            raise = !before && interruptPending();
        }
        if (raise) {
            irq.trigger();
        }
        return taken;
    }

    @Override
    public void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0);
        if (data.length != 1 || offset < 0 || offset >= PORTS) {
            return;
        }
        Runnable room = null;
        synchronized (this) {
            data[0] = (byte) switch ((int) offset) {
                case DATA -> {
                    if ((lcr & LCR_DLAB) != 0) {
                        yield dll;
                    }
                    Byte b = rx.poll();
                    if (rx.isEmpty() && b != null) {
                        room = onRoom;
                    }
                    yield b == null ? 0 : b & 0xff;
                }
                case IER -> (lcr & LCR_DLAB) != 0 ? dlm : ier;
                case IIR_FCR -> {
                    int id = interruptId();
                    if (id == IIR_THRI) {
                        thrEmptyPending = false; // reading IIR acknowledges the THR-empty interrupt
                    }
                    yield id | IIR_FIFO;
                }
                case LCR -> lcr;
                case MCR -> mcr;
                case LSR -> LSR_THRE | LSR_TEMT | (rx.isEmpty() ? 0 : LSR_DR);
                case MSR -> modemStatus();
                case SCR -> scr;
                default -> 0;
            };
        }
        if (room != null) {
            room.run();
        }
    }

    @Override
    public void write(long offset, byte[] data) {
        if (data.length != 1 || offset < 0 || offset >= PORTS) {
            return;
        }
        int v = data[0] & 0xff;
        boolean raise = false;
        byte[] out = null;
        synchronized (this) {
            boolean before = interruptPending();
            switch ((int) offset) {
                case DATA -> {
                    if ((lcr & LCR_DLAB) != 0) {
                        dll = v;
                    } else if ((mcr & MCR_LOOP) != 0) {
                        if (rx.size() < FIFO_SIZE) {
                            rx.add((byte) v); // loopback: what is sent is received
                        }
                        thrEmptyPending = true;
                    } else {
                        out = new byte[] {(byte) v};
                        thrEmptyPending = true; // transmitted at once: the holding register is empty again
                    }
                }
                case IER -> {
                    if ((lcr & LCR_DLAB) != 0) {
                        dlm = v;
                    } else {
                        boolean thriEnabled = (v & IER_THRI) != 0 && (ier & IER_THRI) == 0;
                        ier = v & IER_MASK;
                        if (thriEnabled) {
                            thrEmptyPending = true; // enabling it while the THR is empty raises it
                        }
                    }
                }
                case IIR_FCR -> {
                    if ((v & 0x02) != 0) {
                        rx.clear(); // FCR: clear the receive FIFO
                    }
                }
                case LCR -> lcr = v;
                case MCR -> mcr = v & MCR_MASK;
                case SCR -> scr = v;
                default -> {
                    // LSR and MSR are read-only
                }
            }
            raise = (!before || out != null) && interruptPending();
        }
        if (out != null) {
            emit(out);
        }
        if (raise) {
            irq.trigger();
        }
    }

    private void emit(byte[] b) {
        synchronized (output) {
            if (outputBroken) {
                return;
            }
            try {
                output.write(b);
                output.flush();
                bytesOut += b.length;
            } catch (IOException e) {
                outputBroken = true; // the console's reader is gone: the guest goes on without it
            }
        }
    }

    /** Bytes the guest wrote to the console so far. */
    public long bytesOut() {
        synchronized (output) {
            return bytesOut;
        }
    }

    private boolean interruptPending() {
        return interruptId() != IIR_NONE;
    }

    /** The highest-priority pending and enabled interrupt, as IIR reports it. */
    private int interruptId() {
        if ((ier & IER_RDI) != 0 && !rx.isEmpty()) {
            return IIR_RDI;
        }
        if ((ier & IER_THRI) != 0 && thrEmptyPending) {
            return IIR_THRI;
        }
        return IIR_NONE;
    }

    private int modemStatus() {
        if ((mcr & MCR_LOOP) != 0) {
            int m = 0;
            m |= (mcr & 0x02) != 0 ? MSR_CTS : 0; // RTS
            m |= (mcr & 0x01) != 0 ? MSR_DSR : 0; // DTR
            m |= (mcr & 0x04) != 0 ? MSR_RI : 0;  // OUT1
            m |= (mcr & 0x08) != 0 ? MSR_DCD : 0; // OUT2
            return m;
        }
        return MSR_DCD | MSR_DSR | MSR_CTS;
    }
}
