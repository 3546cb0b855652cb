package dev.kava.runtime.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads figures of a process from /proc/PID/status. */
public final class ProcStatus {
    private ProcStatus() {}

    /** VmRSS in KiB, 0 when the process is gone. */
    public static long rssKiB(long pid) {
        return field(pid, "VmRSS:");
    }

    /** Threads of a process, 0 when it is gone. */
    public static int threads(long pid) {
        return (int) field(pid, "Threads:");
    }

    private static long field(long pid, String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith(name)) return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]);
            }
        } catch (IOException | RuntimeException e) {
            // gone
        }
        return 0;
    }
}
