package dev.kava.it.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.cli.containerd.ContainerdOptions;
import dev.kava.cli.containerd.LocalImages;
import dev.kava.cli.containerd.PrivateContainerd;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * CRI pods against a private containerd, for one runtime handler: subclass it once per handler ("runc",
 * "kava"), overriding {@link #options()} when the handler's shim needs more (its directory on PATH).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class CriPodContract {
    protected PrivateContainerd ctrd;
    protected CriClient cri;

    /** The CRI runtime handler the pods ask for. */
    protected abstract String runtimeHandler();

    /** The containerd to start; the defaults know the handlers "runc" and "kava". */
    protected ContainerdOptions options() {
        return ContainerdOptions.defaults();
    }

    @BeforeAll
    void start() {
        ContainerdFixtures.assumeRootAndContainerd();
        ctrd = PrivateContainerd.start(options());
        LocalImages.importDefaults(ctrd);
        long t0 = System.nanoTime();
        cri = CriClient.connect(ctrd.address(), Duration.ofSeconds(20));
        System.out.println("containerd answered after " + ctrd.startupTime().toMillis() + " ms; CRI "
                + cri.version().getRuntimeVersion() + " " + (System.nanoTime() - t0) / 1_000_000 + " ms after the images were in");
    }

    @AfterAll
    void stop() {
        try {
            if (cri != null) {
                cri.close();
            }
        } finally {
            if (ctrd != null) {
                Path dir = ctrd.dir();
                ctrd.close();
                assertTrue(!Files.exists(dir), dir + " still exists");
            }
        }
    }

    @Test
    void criSeesTheLocalImages() {
        assertEquals("v1", cri.version().getRuntimeApiVersion());
        assertNotNull(cri.imageStatus(LocalImages.BUSYBOX), "CRI does not know " + LocalImages.BUSYBOX);
        assertNotNull(cri.imageStatus(LocalImages.PAUSE), "CRI does not know " + LocalImages.PAUSE);
        List<String> tags = cri.listImages().stream().flatMap(i -> i.getRepoTagsList().stream()).toList();
        assertTrue(tags.containsAll(List.of(LocalImages.BUSYBOX, LocalImages.PAUSE)), tags::toString);
    }

    @Test
    void aPodWithTwoContainersRunsExecsStopsAndLeavesNothing() throws Exception {
        try {
            var t = CriPodScenario.twoContainerPod(cri, ctrd, runtimeHandler());
            System.out.println(runtimeHandler() + " pod timings (ms): " + t);
        } catch (Exception | AssertionError e) {
            System.out.println("the end of containerd's log:\n" + ctrd.logTail(80));
            throw e;
        }
    }
}
