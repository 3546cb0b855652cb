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
 * Like {@link StructLayoutTest}, for {@link Epoll} and {@link Memory}: {@code struct epoll_event}
 * and every public int constant of the two classes.
 */
class EpollMemoryLayoutTest {
    private static final List<String> HEADERS = List.of("unistd.h", "sys/epoll.h", "sys/mman.h");

    @Test
    void layoutsAndConstantsMatchTheCHeaders(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        CHeaders.addStruct(expected, Epoll.EPOLL_EVENT, true);
        expected.put("_SC_PAGESIZE", 30L);
        for (Class<?> holder : List.of(Epoll.class, Memory.class)) {
            CHeaders.addConstants(expected, holder,
                    f -> Modifier.isPublic(f.getModifiers()) && f.getType() == int.class
                            && !f.getName().equals("MAX_EVENTS"),
                    name -> name);
        }
        assertTrue(expected.size() > 40, "checks: " + expected.size());
        CHeaders.assertMatch(dir, HEADERS, expected);
    }
}
