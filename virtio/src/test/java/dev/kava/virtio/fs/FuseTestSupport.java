package dev.kava.virtio.fs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * A FUSE server on a fresh shared directory per test, INIT done, driven by a {@link FuseDriver}
 * whose random splits are seeded by the test's name (reproducible). A canary file lies next to the
 * shared directory, outside it.
 */
abstract class FuseTestSupport {
    static final long ROOT = 1;

    @TempDir
    Path tmp;
    Path share;
    Path canary;
    FuseDriver fuse;

    /** The configuration under test; override to change cache mode or limits. */
    FsConfig config(Path share) {
        return FsConfig.of(share);
    }

    @BeforeEach
    void startServer(TestInfo info) throws IOException {
        share = Files.createDirectory(tmp.resolve("share"));
        canary = Files.writeString(tmp.resolve("canary"), "canary: outside the share");
        fuse = new FuseDriver(config(share), info.getDisplayName().hashCode());
        fuse.init();
    }

    @AfterEach
    void stopServer() {
        if (fuse != null) {
            fuse.close();
        }
    }

    /** Descriptors this process has open now. */
    static long fdCount() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
