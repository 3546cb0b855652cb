package dev.kava.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded guest programs are exactly their sources: each {@code .S} beside them is assembled
 * with GNU as and compared byte for byte. Runs without KVM (binutils only).
 */
class GuestProgramsTest {
    @Test
    void everyProgramIsItsAssembledSource(@TempDir Path dir) throws Exception {
        boolean haveAs;
        try {
            haveAs = new ProcessBuilder("as", "--version").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException e) {
            haveAs = false;
        }
        if (!haveAs) {
            System.out.println("SKIP GuestProgramsTest: GNU as (binutils) is not installed");
        }
        Assumptions.assumeTrue(haveAs, "GNU as (binutils) is not installed");
        assertEquals(6, GuestPrograms.ALL.size());
        for (Map.Entry<String, byte[]> e : GuestPrograms.ALL.entrySet()) {
            Path src = dir.resolve(e.getKey() + ".S");
            try (InputStream in = getClass().getResourceAsStream("/guest/" + e.getKey() + ".S")) {
                assertTrue(in != null, "no source for " + e.getKey());
                Files.write(src, in.readAllBytes());
            }
            Path obj = dir.resolve(e.getKey() + ".o");
            Path bin = dir.resolve(e.getKey() + ".bin");
            run("as", "--64", "-o", obj.toString(), src.toString());
            run("objcopy", "-O", "binary", "-j", ".text", obj.toString(), bin.toString());
            assertArrayEquals(Files.readAllBytes(bin), e.getValue(), e.getKey() + ": the embedded bytes are not its source");
        }
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
    }
}
