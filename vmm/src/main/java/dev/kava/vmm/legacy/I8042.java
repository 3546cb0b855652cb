package dev.kava.vmm.legacy;

import dev.kava.vmm.bus.BusDevice;
import java.util.ArrayDeque;
import java.util.Objects;

/**
 * Just enough of an i8042 keyboard controller for a Linux guest to probe it and to reboot through
 * it ({@code reboot=k}: command 0xFE, "pulse the reset line", on port 0x64), which this VMM turns
 * into the VM's end, as Firecracker does. Ports: {@link #DATA_PORT} data, {@link #COMMAND_PORT}
 * status / command. There is no keyboard behind it.
 *
 * <p>Guest input is untrusted: unknown commands are ignored, the output buffer is bounded, and
 * only the reset command has an effect outside the device. Thread-safe.
 */
public final class I8042 implements BusDevice {
    public static final int DATA_PORT = 0x60;
    public static final int COMMAND_PORT = 0x64;
    /** The two ports as one bus range: 0x60..0x64. */
    public static final int RANGE = 5;
    static final int CMD_READ_CTR = 0x20;
    static final int CMD_WRITE_CTR = 0x60;
    static final int CMD_DISABLE_AUX = 0xa7;
    static final int CMD_ENABLE_AUX = 0xa8;
    static final int CMD_TEST_AUX = 0xa9;
    static final int CMD_SELF_TEST = 0xaa;
    static final int CMD_TEST_KBD = 0xab;
    static final int CMD_DISABLE_KBD = 0xad;
    static final int CMD_ENABLE_KBD = 0xae;
    static final int CMD_READ_OUTPUT_PORT = 0xd0;
    static final int CMD_WRITE_OUTPUT_PORT = 0xd1;
    static final int CMD_RESET_CPU = 0xfe;
    static final int STATUS_OUTPUT_FULL = 0x01;
    static final int STATUS_SYSTEM = 0x04;
    static final int STATUS_COMMAND = 0x08;
    static final int SELF_TEST_OK = 0x55;
    private static final int MAX_OUTPUT = 16;

    private final Runnable reset;
    private final ArrayDeque<Integer> output = new ArrayDeque<>();
    private int control = 0x30; // keyboard and aux clocks disabled
    private int status = STATUS_SYSTEM;
    private int pending = -1;
    private int outputPort = 0x01;

    /** {@code reset} runs (on the vCPU's thread) when the guest pulses the reset line. */
    public I8042(Runnable reset) {
        this.reset = Objects.requireNonNull(reset, "reset");
    }

    @Override
    public void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0);
        if (data.length != 1) {
            return;
        }
        synchronized (this) {
            if (offset == 0) {
                Integer b = output.poll();
                data[0] = (byte) (b == null ? 0 : b);
            } else if (offset == COMMAND_PORT - DATA_PORT) {
                data[0] = (byte) (status | (output.isEmpty() ? 0 : STATUS_OUTPUT_FULL));
            }
        }
    }

    @Override
    public void write(long offset, byte[] data) {
        if (data.length != 1) {
            return;
        }
        int v = data[0] & 0xff;
        boolean doReset = false;
        synchronized (this) {
            if (offset == COMMAND_PORT - DATA_PORT) {
                status |= STATUS_COMMAND;
                switch (v) {
                    case CMD_READ_CTR -> push(control);
                    case CMD_WRITE_CTR, CMD_WRITE_OUTPUT_PORT -> pending = v;
                    case CMD_READ_OUTPUT_PORT -> push(outputPort);
                    case CMD_SELF_TEST -> push(SELF_TEST_OK);
                    case CMD_TEST_KBD, CMD_TEST_AUX -> push(0x00);
                    case CMD_DISABLE_KBD -> control |= 0x10;
                    case CMD_ENABLE_KBD -> control &= ~0x10;
                    case CMD_DISABLE_AUX -> control |= 0x20;
                    case CMD_ENABLE_AUX -> control &= ~0x20;
                    case CMD_RESET_CPU -> doReset = true;
                    default -> {
                        // other commands (and pulses other than reset) do nothing here
                    }
                }
            } else if (offset == 0) {
                status &= ~STATUS_COMMAND;
                if (pending == CMD_WRITE_CTR) {
                    control = v;
                } else if (pending == CMD_WRITE_OUTPUT_PORT) {
                    outputPort = v;
                    doReset = (v & 0x01) == 0; // clearing the reset line bit resets the CPU
                } else {
                    push(0xfa); // a keyboard command: acknowledged, and that is all
                }
                pending = -1;
            }
        }
        if (doReset) {
            reset.run();
        }
    }

    private void push(int b) {
        if (output.size() < MAX_OUTPUT) {
            output.add(b & 0xff);
        }
    }
}
