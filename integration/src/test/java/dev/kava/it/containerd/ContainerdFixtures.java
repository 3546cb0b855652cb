package dev.kava.it.containerd;

import dev.kava.cli.containerd.ContainerdOptions;
import dev.kava.cli.containerd.PrivateContainerd;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/** What the containerd tests share: the root check and waiting for a clean slate. */
final class ContainerdFixtures {
    private ContainerdFixtures() {}

    /**
     * Skips the test, saying why, unless we are root and containerd, ctr and runc are installed; then removes
     * the private containerds of test runs that were killed before they could close them.
     */
    static void assumeRootAndContainerd() {
        int uid;
        try {
            uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            uid = -1;
        }
        String why = uid != 0 ? "the containerd tests need root (uid " + uid + ")"
                : !Files.isExecutable(Path.of("/usr/bin/containerd")) || !Files.isExecutable(Path.of("/usr/bin/ctr"))
                ? "containerd is not installed (apt-get install containerd)"
                : !Files.isExecutable(Path.of("/usr/sbin/runc")) ? "runc is not installed (apt-get install runc)" : null;
        if (why != null) {
            System.out.println("skipped: " + why);
        }
        Assumptions.assumeTrue(why == null, why);
        List<Path> stale = PrivateContainerd.reapStale(ContainerdOptions.defaults().parentDir());
        if (!stale.isEmpty()) {
            System.out.println("removed what killed test runs left: " + stale);
        }
    }

    /**
     * Waits until {@link PrivateContainerd#leftovers()} is empty (a shim exits a moment after its last task is
     * deleted) and returns what is left after {@code timeout}: empty when all is clean.
     */
    static List<String> awaitNoLeftovers(PrivateContainerd ctrd, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        List<String> left = ctrd.leftovers();
        while (!left.isEmpty() && System.nanoTime() < end) {
            Thread.sleep(20);
            left = ctrd.leftovers();
        }
        return left;
    }

    static long median(List<Long> values) {
        List<Long> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }
}
