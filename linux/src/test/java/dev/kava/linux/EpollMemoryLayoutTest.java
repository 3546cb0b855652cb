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
 * Like {@link StructLayoutTest}, for {@link Epoll} and {@link Memory}: compiles a C program with
 * gcc that prints the size, alignment and member offsets of {@code struct epoll_event} and every
 * constant of the two classes, and compares them with Java.
 */
class EpollMemoryLayoutTest {
    private static final List<String> HEADERS = List.of(
            "stddef.h", "stdio.h", "unistd.h", "sys/epoll.h", "sys/mman.h");
    private static final List<StructLayout> LAYOUTS = List.of(Epoll.EPOLL_EVENT);
    private static final List<Class<?>> CONSTANT_HOLDERS = List.of(Epoll.class, Memory.class);
    /** Java-only fields that are not C macros. */
    private static final Set<String> NOT_C = Set.of("MAX_EVENTS");

    @Test
    void layoutsAndConstantsMatchTheCHeaders(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        for (StructLayout s : LAYOUTS) {
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
        expected.put("_SC_PAGESIZE", 30L);
        for (Class<?> holder : CONSTANT_HOLDERS) {
            for (Field f : holder.getDeclaredFields()) {
                int mod = f.getModifiers();
                if (!Modifier.isStatic(mod) || !Modifier.isFinal(mod) || !Modifier.isPublic(mod)
                        || NOT_C.contains(f.getName()) || f.getType() != int.class) {
                    continue;
                }
                expected.put("(unsigned int)" + f.getName(), Integer.toUnsignedLong(f.getInt(null)));
            }
        }
        assertTrue(expected.size() > 40, "checks: " + expected.size());

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
        Process p;
        try {
            p = new ProcessBuilder("gcc", "-std=gnu11", "-Wall", "-o", exe.toString(), c.toString())
                    .redirectErrorStream(true).start();
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
