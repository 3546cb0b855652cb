package dev.kava.virtio.vhostuser;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The descriptors and memfd mappings of this process, to prove a test left none behind. Compares
 * sets rather than counts: other tests' cleaners may close descriptors meanwhile, and only what
 * appeared is a leak.
 */
final class OpenFiles {
    private OpenFiles() {}

    /** "fd -> target" for every open descriptor. */
    static Set<String> descriptors() throws IOException {
        Set<String> out = new TreeSet<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    if (!target.matches("/proc/\\d+/fd")) { // the listing's own descriptor
                        out.add(p.getFileName() + " -> " + target);
                    }
                } catch (IOException e) {
                    // closed while listing (the listing's own descriptor, for one)
                }
            }
        }
        return out;
    }

    /** The /proc/self/maps lines of memfd mappings. */
    static Set<String> memfdMappings() throws IOException {
        return new TreeSet<>(Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("/memfd:")).toList());
    }

    /** Fails with the list of what is in {@code after} but not in {@code before}. */
    static void assertNoneAdded(Set<String> before, Set<String> after, String what) {
        List<String> added = after.stream().filter(x -> !before.contains(x)).toList();
        assertEquals(List.of(), added, what + " left behind");
    }
}
