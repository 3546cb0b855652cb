package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles a C program with gcc that prints sizeof/offsetof of every struct in {@link Structs} and
 * the value of every constant this module defines, and compares them with the Java side.
 */
class StructLayoutTest {
    private static final List<String> HEADERS = List.of(
            "stddef.h", "stdio.h", "errno.h", "fcntl.h", "signal.h", "termios.h", "time.h",
            "sys/socket.h", "sys/un.h", "sys/uio.h", "sys/ioctl.h", "sys/wait.h", "sys/prctl.h",
            "sys/mount.h", "sys/utsname.h", "sys/eventfd.h", "sys/mman.h", "linux/vm_sockets.h",
            "linux/reboot.h");

    /** Classes whose non-private static int/long fields are named after C macros. */
    private static final List<Class<?>> CONSTANT_HOLDERS = List.of(
            OpenFlags.class, Errno.class, Signals.class, Processes.class, Mounts.class, Ioctls.class,
            SystemCalls.class, Vsock.class, Sockets.class, Terminal.class);
    /** Java-only fields that are not C macros. */
    private static final Set<String> NOT_C = Set.of("MAX", "MAX_FDS");
    /** Java names of C macros that Java cannot spell. */
    private static final Map<String, String> C_NAMES = Map.of("WALL", "__WALL");

    @Test
    void layoutsAndConstantsMatchTheCHeaders(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        for (StructLayout s : Structs.ALL) {
            String type = s.name().orElseThrow();
            expected.put("sizeof(" + type + ")", s.byteSize());
            expected.put("_Alignof(" + type + ")", s.byteAlignment());
            for (MemoryLayout m : s.memberLayouts()) {
                if (!(m instanceof PaddingLayout)) {
                    String member = m.name().orElseThrow(() -> new AssertionError("unnamed member in " + type));
                    expected.put("offsetof(" + type + ", " + member + ")", Structs.offset(s, member));
                    expected.put("sizeof(((" + type + " *)0)->" + member + ")", m.byteSize());
                }
            }
        }
        expected.put("CMSG_LEN(0)", Structs.CMSGHDR.byteSize());
        expected.put("CMSG_SPACE(4)", UnixSocket.cmsgSpace(4));
        expected.put("CMSG_SPACE(12)", UnixSocket.cmsgSpace(12));
        expected.put("NCCS", 32L);
        for (Class<?> holder : CONSTANT_HOLDERS) {
            for (Field f : holder.getDeclaredFields()) {
                int mod = f.getModifiers();
                if (!Modifier.isStatic(mod) || !Modifier.isFinal(mod) || Modifier.isPrivate(mod)
                        || NOT_C.contains(f.getName())) {
                    continue;
                }
                String c = C_NAMES.getOrDefault(f.getName(), f.getName());
                if (f.getType() == int.class) {
                    expected.put("(unsigned int)" + c, Integer.toUnsignedLong(f.getInt(null)));
                } else if (f.getType() == long.class) {
                    expected.put("(unsigned long long)" + c, f.getLong(null));
                }
            }
        }
        assertTrue(expected.size() > 200, "checks: " + expected.size());

        Map<String, Long> actual = runC(dir, expected.keySet());
        List<String> mismatches = new ArrayList<>();
        expected.forEach((expr, java) -> {
            Long c = actual.get(expr);
            if (!java.equals(c)) {
                mismatches.add(expr + ": Java " + java + ", C " + c);
            }
        });
        assertEquals(List.of(), mismatches, "Java layouts/constants differ from the C headers");
    }

    private static Map<String, Long> runC(Path dir, Iterable<String> expressions) throws IOException, InterruptedException {
        StringBuilder src = new StringBuilder("#define _GNU_SOURCE\n");
        HEADERS.forEach(h -> src.append("#include <").append(h).append(">\n"));
        src.append("int main(void) {\n");
        for (String e : expressions) {
            src.append("    printf(\"%s=%llu\\n\", \"").append(e.replace("\"", "\\\""))
                    .append("\", (unsigned long long)(").append(e).append("));\n");
        }
        src.append("    return 0;\n}\n");
        Path c = dir.resolve("layouts.c");
        Path exe = dir.resolve("layouts");
        Files.writeString(c, src);

        ProcessBuilder gcc = new ProcessBuilder("gcc", "-std=gnu11", "-Wall", "-o", exe.toString(), c.toString())
                .redirectErrorStream(true);
        Process p;
        try {
            p = gcc.start();
        } catch (IOException e) {
            fail("this test needs gcc on PATH to compile " + c + " against the C headers: " + e.getMessage());
            return Map.of();
        }
        String gccOut = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "gcc timed out");
        assertEquals(0, p.exitValue(), "gcc failed on " + c + ":\n" + gccOut);

        Process run = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
        String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(run.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, run.exitValue(), out);
        Map<String, Long> values = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int eq = line.lastIndexOf('=');
            if (eq > 0) {
                values.put(line.substring(0, eq), Long.parseUnsignedLong(line.substring(eq + 1)));
            }
        }
        return values;
    }
}
