package dev.kava.it.containerd;

import dev.kava.cli.containerd.ContainerdOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Where this checkout's containerd-shim-kava-v2 is, and what a kava pod may leave on the host. */
final class KavaShim {
    private KavaShim() {}

    static Path home() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("kava"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("cannot find the checkout above " + Path.of("").toAbsolutePath());
        return p;
    }

    /** containerd with the shim's directory first on PATH, running the jar this build made. */
    static ContainerdOptions options(ContainerdOptions base) {
        Map<String, String> env = new HashMap<>(base.env());
        String jar = System.getProperty("kava.shim.jar");
        if (jar != null && Files.isRegularFile(Path.of(jar))) env.put("KAVA_SHIM_JAR", jar);
        return base.withExtraPath(home().resolve("shim/bin")).withEnv(env);
    }

    /**
     * What a namespace's kava pods left: sandbox state directories, VM processes naming them, mounts under
     * them. Empty when all is clean.
     */
    static List<String> leftovers(String namespace) throws IOException {
        List<String> left = new ArrayList<>();
        String prefix = namespace + "--";
        Path run = Path.of("/run/kava");
        if (Files.isDirectory(run)) {
            try (Stream<Path> s = Files.list(run)) {
                s.filter(p -> p.getFileName().toString().startsWith(prefix)).forEach(p -> left.add("state dir " + p));
            }
        }
        Path shims = Path.of("/run/kava/shim");
        if (Files.isDirectory(shims)) {
            try (Stream<Path> s = Files.list(shims)) {
                for (Path f : s.filter(f -> f.toString().endsWith(".pid")).toList()) {
                    try {
                        long pid = Long.parseLong(Files.readString(f).trim());
                        if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) continue;
                    } catch (IOException | NumberFormatException e) {
                        // unreadable: stale too
                    }
                    left.add("stale shim file " + f);
                }
            }
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].startsWith("/run/kava/" + prefix)) left.add("mount " + f[4]);
        }
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline"))).replace('\0', ' ');
                    if (cmd.contains("qemu-system") && cmd.contains("/run/kava/" + prefix)) left.add("VM process " + p.getFileName());
                } catch (IOException e) {
                    // gone
                }
            }
        }
        return left;
    }

    static List<String> awaitNoLeftovers(String namespace, long millis) throws Exception {
        long end = System.currentTimeMillis() + millis;
        List<String> left = leftovers(namespace);
        while (!left.isEmpty() && System.currentTimeMillis() < end) {
            Thread.sleep(100);
            left = leftovers(namespace);
        }
        return left;
    }
}
