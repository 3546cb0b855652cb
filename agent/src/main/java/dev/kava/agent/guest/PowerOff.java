package dev.kava.agent.guest;

import dev.kava.linux.LinuxException;
import dev.kava.linux.SystemCalls;
import java.util.logging.Logger;

/**
 * The end of the sandbox: sync and reboot, which ends the VM (the guest runs with reboot=t and
 * QEMU with -no-reboot). Only PID 1 of a guest does that; elsewhere (tests, a development run)
 * the process exits instead, never the host.
 */
public final class PowerOff {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.guest");

    private PowerOff() {}

    /** After {@code delayMillis} (so the last reply goes out), syncs and reboots, or exits. */
    public static void schedule(long delayMillis, boolean guest) {
        Thread.ofPlatform().name("power-off").start(() -> {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                // go on: the sandbox is over
            }
            if (!guest) {
                LOG.info("sandbox destroyed: exiting (not a guest's PID 1)");
                System.exit(0);
            }
            LOG.info("sandbox destroyed: rebooting");
            try {
                SystemCalls.sync();
                SystemCalls.reboot(SystemCalls.LINUX_REBOOT_CMD_RESTART);
            } catch (LinuxException e) {
                LOG.severe("reboot failed: " + e.getMessage());
            }
        });
    }
}
