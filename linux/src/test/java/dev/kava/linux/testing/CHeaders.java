package dev.kava.linux.testing;

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
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The one harness of every layout test: Java's idea of a C struct layout or constant is written as
 * a C expression ({@code sizeof}, {@code offsetof}, a macro) with the value Java has, a small
 * program printing each expression is compiled with gcc against the system headers, and every
 * mismatch is reported at once. Shared through this module's test-jar (the virtio and vmm layout
 * tests use it too).
 */
public final class CHeaders {
    private CHeaders() {}

    /**
     * Adds {@code sizeof}, {@code offsetof} and member sizes of a named struct layout (its name is
     * the C type, e.g. {@code "struct stat"}); {@code _Alignof} too unless the C struct ends in a
     * flexible array, whose alignment Java's header-only layout cannot know.
     */
    public static void addStruct(Map<String, Long> expected, StructLayout s, boolean checkAlignment) {
        String type = s.name().orElseThrow(() -> new AssertionError("unnamed struct layout " + s));
        expected.put("sizeof(" + type + ")", s.byteSize());
        if (checkAlignment) {
            expected.put("_Alignof(" + type + ")", s.byteAlignment());
        }
        for (MemoryLayout m : s.memberLayouts()) {
            if (m instanceof PaddingLayout) {
                continue;
            }
            String member = m.name().orElseThrow(() -> new AssertionError("unnamed member in " + type));
            expected.put("offsetof(" + type + ", " + member + ")",
                    s.byteOffset(MemoryLayout.PathElement.groupElement(member)));
            expected.put("sizeof(((" + type + " *)0)->" + member + ")", m.byteSize());
        }
    }

    /** {@link #addStruct(Map, StructLayout, boolean)} with the alignment checked, for each layout. */
    public static void addStructs(Map<String, Long> expected, Iterable<StructLayout> layouts) {
        layouts.forEach(s -> addStruct(expected, s, true));
    }

    /**
     * Adds every static final {@code int} or {@code long} field of {@code holder} that
     * {@code include} accepts, as the C macro {@code cName} gives for its Java name; ints compare
     * as unsigned 32-bit values, longs as unsigned 64-bit values. Private fields are read too when
     * {@code include} accepts them.
     */
    public static void addConstants(Map<String, Long> expected, Class<?> holder, Predicate<Field> include,
            Function<String, String> cName) {
        for (Field f : holder.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (!Modifier.isStatic(mod) || !Modifier.isFinal(mod) || !include.test(f)) {
                continue;
            }
            try {
                f.setAccessible(true);
                String c = cName.apply(f.getName());
                if (f.getType() == int.class) {
                    expected.put("(unsigned int)" + c, Integer.toUnsignedLong(f.getInt(null)));
                } else if (f.getType() == long.class) {
                    expected.put("(unsigned long long)" + c, f.getLong(null));
                }
            } catch (IllegalAccessException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** Non-private constants of {@code holder}, named as in C, except the Java-only names given. */
    public static void addConstants(Map<String, Long> expected, Class<?> holder, String... javaOnly) {
        List<String> skip = List.of(javaOnly);
        addConstants(expected, holder, f -> !Modifier.isPrivate(f.getModifiers()) && !skip.contains(f.getName()),
                Function.identity());
    }

    /** Asserts that each expression evaluates in C (with {@code headers}) to the Java value given. */
    public static void assertMatch(Path dir, List<String> headers, Map<String, Long> expected)
            throws IOException, InterruptedException {
        Map<String, Long> actual = evaluate(dir, headers, expected.keySet());
        List<String> mismatches = new ArrayList<>();
        expected.forEach((expr, java) -> {
            Long c = actual.get(expr);
            if (!java.equals(c)) {
                mismatches.add(expr + ": Java " + java + " (0x" + Long.toHexString(java) + "), C " + c
                        + (c == null ? "" : " (0x" + Long.toHexString(c) + ")"));
            }
        });
        assertEquals(List.of(), mismatches, "Java layouts/constants differ from the C headers");
    }

    /** The value of each expression as an unsigned 64-bit number (negative longs for the top half). */
    public static Map<String, Long> evaluate(Path dir, List<String> headers, Iterable<String> expressions)
            throws IOException, InterruptedException {
        StringBuilder src = new StringBuilder("#define _GNU_SOURCE\n#include <stdio.h>\n#include <stddef.h>\n");
        headers.forEach(h -> src.append("#include <").append(h).append(">\n"));
        src.append("int main(void) {\n");
        for (String e : expressions) {
            src.append("    printf(\"%s=%llu\\n\", \"").append(e.replace("\"", "\\\"")).append("\", (unsigned long long)(")
                    .append(e).append("));\n");
        }
        src.append("    return 0;\n}\n");
        Path c = Files.createTempFile(dir, "headers", ".c");
        Path exe = dir.resolve(c.getFileName().toString().replace(".c", ""));
        Files.writeString(c, src);
        Process p;
        try {
            p = new ProcessBuilder("gcc", "-std=gnu11", "-Wall", "-o", exe.toString(), c.toString())
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            fail("this test needs gcc on PATH to compile " + c + " against the C headers: " + e.getMessage());
            return Map.of();
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "gcc timed out");
        assertEquals(0, p.exitValue(), "gcc failed on " + c + ":\n" + out);
        Process run = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
        String values = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(run.waitFor(10, TimeUnit.SECONDS), "the layout program timed out");
        assertEquals(0, run.exitValue(), values);
        Map<String, Long> m = new LinkedHashMap<>();
        for (String line : values.split("\n")) {
            int eq = line.lastIndexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), Long.parseUnsignedLong(line.substring(eq + 1)));
            }
        }
        return m;
    }
}
