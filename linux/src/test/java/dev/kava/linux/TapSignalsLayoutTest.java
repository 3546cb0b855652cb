package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.testing.CHeaders;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Like {@link StructLayoutTest}, for {@link Tap}, {@link ThreadSignals} and {@link Namespaces}:
 * {@code struct ifreq} (the part TUNSETIFF uses), every public constant, and glibc's
 * {@code sigset_t} size, against {@code <linux/if_tun.h>}, {@code <net/if.h>} and {@code <signal.h>}.
 */
class TapSignalsLayoutTest {
    private static final List<String> HEADERS = List.of("signal.h", "sched.h", "net/if.h", "sys/ioctl.h",
            "linux/if_tun.h");

    @Test
    void layoutsAndConstantsMatchTheCHeaders(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        // sizeof only: Java's ifreq is the TUNSETIFF part, its alignment is not the union's
        CHeaders.addStruct(expected, Tap.IFREQ, false);
        expected.put("sizeof(sigset_t)", ThreadSignals.SIGSET_T_BYTES);
        for (Class<?> holder : List.of(Tap.class, ThreadSignals.class, Namespaces.class)) {
            CHeaders.addConstants(expected, holder, f -> Modifier.isPublic(f.getModifiers()), name -> name);
        }
        assertTrue(expected.size() > 20, "checks: " + expected.size());
        CHeaders.assertMatch(dir, HEADERS, expected);
    }
}
