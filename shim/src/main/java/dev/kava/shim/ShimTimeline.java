package dev.kava.shim;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * When {@code KAVA_SHIM_TIMELINE} names a file, the shim appends {@code <id> <event> <epoch ns>} lines
 * to it: {@code kava bench ctr} reads them to separate the shim's own time from the VM's boot.
 */
public final class ShimTimeline {
    private static final String FILE = System.getenv("KAVA_SHIM_TIMELINE");

    private ShimTimeline() {}

    public static void mark(String id, String event) {
        if (FILE == null || FILE.isEmpty()) return;
        Instant now = Instant.now();
        String line = id + " " + event + " " + (now.getEpochSecond() * 1_000_000_000L + now.getNano()) + "\n";
        try {
            Files.writeString(Path.of(FILE), line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            // a benchmark aid only
        }
    }
}
