package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.testing.CHeaders;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every struct in {@link Structs} (size, alignment, member offsets and sizes) and every constant
 * this module defines for processes, signals, sockets, terminals and mounts, compared with what gcc
 * says against the C headers ({@link CHeaders}).
 */
class StructLayoutTest {
    private static final List<String> HEADERS = List.of(
            "errno.h", "fcntl.h", "signal.h", "termios.h", "time.h",
            "sys/socket.h", "sys/un.h", "sys/uio.h", "sys/ioctl.h", "sys/wait.h", "sys/prctl.h",
            "sys/mount.h", "sys/utsname.h", "sys/eventfd.h", "sys/mman.h", "sys/resource.h",
            "linux/vm_sockets.h", "linux/reboot.h");

    /** Java-only fields that are not C macros. */
    private static final Set<String> JAVA_ONLY = Set.of("MAX", "MAX_FDS");
    /** Java names of C macros that Java cannot spell. */
    private static final Map<String, String> C_NAMES = Map.of("WALL", "__WALL");

    @Test
    void layoutsAndConstantsMatchTheCHeaders(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        CHeaders.addStructs(expected, Structs.ALL);
        expected.put("CMSG_LEN(0)", Structs.CMSGHDR.byteSize());
        expected.put("CMSG_SPACE(4)", UnixSocket.cmsgSpace(4));
        expected.put("CMSG_SPACE(12)", UnixSocket.cmsgSpace(12));
        expected.put("NCCS", 32L);
        for (Class<?> holder : List.of(OpenFlags.class, Errno.class, Signals.class, Processes.class, Mounts.class,
                Ioctls.class, SystemCalls.class, Vsock.class, Sockets.class, Terminal.class)) {
            CHeaders.addConstants(expected, holder,
                    f -> !Modifier.isPrivate(f.getModifiers()) && !JAVA_ONLY.contains(f.getName()),
                    name -> C_NAMES.getOrDefault(name, name));
        }
        assertTrue(expected.size() > 200, "checks: " + expected.size());
        CHeaders.assertMatch(dir, HEADERS, expected);
    }
}
