package dev.kava.runtime.sandbox;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * Named instants in the life of one {@code kava run}, in milliseconds since the JVM started (so the
 * figures include JVM start-up). {@code kava bench startup} reads them to split the wall time.
 */
public final class Timeline {
    public record Mark(String name, double millis) {}

    private final long jvmStartMillis = ManagementFactory.getRuntimeMXBean().getStartTime();
    private final long originNanos = System.nanoTime();
    private final long originMillis = System.currentTimeMillis();
    private final List<Mark> marks = new ArrayList<>();

    public synchronized void mark(String name) {
        double sinceOrigin = (System.nanoTime() - originNanos) / 1e6;
        marks.add(new Mark(name, (originMillis - jvmStartMillis) + sinceOrigin));
    }

    public synchronized List<Mark> marks() {
        return List.copyOf(marks);
    }

    /** "name=ms name=ms ...", the format kava bench parses. */
    public synchronized String format() {
        StringBuilder sb = new StringBuilder();
        for (Mark m : marks) {
            if (!sb.isEmpty()) sb.append(' ');
            sb.append(m.name()).append('=').append(String.format(java.util.Locale.ROOT, "%.1f", m.millis()));
        }
        return sb.toString();
    }
}
