package dev.kava.cli.containerd;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * What a finished command printed, captured whole.
 *
 * @param command     the command line, for messages
 * @param exitCode    its exit status (128 + n when killed by signal n)
 * @param stdoutBytes everything it wrote to stdout
 * @param stderrBytes everything it wrote to stderr
 */
public record CommandResult(List<String> command, int exitCode, byte[] stdoutBytes, byte[] stderrBytes) {
    private static final int SHOWN = 4096;

    public CommandResult {
        command = List.copyOf(command);
    }

    /** stdout decoded as UTF-8. */
    public String stdout() {
        return new String(stdoutBytes, StandardCharsets.UTF_8);
    }

    /** stderr decoded as UTF-8. */
    public String stderr() {
        return new String(stderrBytes, StandardCharsets.UTF_8);
    }

    /** Whether the exit status is 0. */
    public boolean ok() {
        return exitCode == 0;
    }

    /** This result when the exit status is 0, else a {@link ContainerdException} describing it. */
    public CommandResult orThrow() {
        if (!ok()) {
            throw new ContainerdException("command failed: " + this);
        }
        return this;
    }

    /** The command, its status and the first few KiB of each stream. */
    @Override
    public String toString() {
        return String.join(" ", command) + " -> exit " + exitCode
                + "\n--- stdout (" + stdoutBytes.length + " bytes) ---\n" + shown(stdoutBytes)
                + "\n--- stderr (" + stderrBytes.length + " bytes) ---\n" + shown(stderrBytes);
    }

    private static String shown(byte[] b) {
        String s = new String(b, 0, Math.min(b.length, SHOWN), StandardCharsets.UTF_8);
        return b.length > SHOWN ? s + "\n[... " + (b.length - SHOWN) + " more bytes]" : s;
    }
}
