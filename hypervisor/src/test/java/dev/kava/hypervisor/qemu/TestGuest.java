package dev.kava.hypervisor.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the VM tests boot: the kava guest kernel (from guest/scripts/build-kernel.sh, cached) and a
 * 16 MiB ext4 root image holding static busybox and a shell {@code /sbin/init}.
 *
 * <p>The init's behaviour is chosen on the kernel command line, so one image serves every test:
 * <ul>
 *   <li>always: prints {@code kava-test-init: up} on the console, opens the virtio-serial port named
 *       {@code agent.0}, writes {@code ready}, then answers every line {@code L} with {@code echo:L};</li>
 *   <li>{@code kava.share=TAG}: first mounts the 9p share TAG on /mnt and writes /mnt/from-guest.txt;</li>
 *   <li>{@code kava.test=reboot}: runs {@code reboot -f} instead of opening the port.</li>
 * </ul>
 */
final class TestGuest {

    /** The first lines of every test init: PATH, /proc, /sys and /dev. */
    private static final String MOUNTS = """
            #!/bin/sh
            export PATH=/bin
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            [ -e /dev/null ] || mount -t devtmpfs dev /dev
            """;

    static final String INIT = MOUNTS + """
            echo "kava-test-init: up"
            arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1"=*) echo "${w#*=}";; esac; done; }
            share=$(arg kava.share)
            if [ -n "$share" ]; then
              mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 "$share" /mnt \\
                && echo "written by the guest" > /mnt/from-guest.txt \\
                && echo "kava-test-init: wrote to share $share"
            fi
            if [ "$(arg kava.test)" = reboot ]; then echo "kava-test-init: rebooting"; reboot -f; fi
            dev=
            for p in /sys/class/virtio-ports/*; do [ "$(cat "$p/name")" = agent.0 ] && dev=/dev/${p##*/}; done
            [ -n "$dev" ] || echo "kava-test-init: no agent.0 port"
            exec 3<>"$dev"
            echo ready >&3
            while read -r line <&3; do echo "echo:$line" >&3; done
            while true; do sleep 3600; done
            """;

    private static String kernelProblem;
    private static Path kernel;

    private TestGuest() {
    }

    /** The guest kernel, or null with {@link #kernelProblem()} saying why. */
    static synchronized Path kernel() {
        if (kernel != null || kernelProblem != null) return kernel;
        Path script = Path.of(System.getProperty("maven.multiModuleProjectDirectory", ".."))
                .resolve("guest/scripts/build-kernel.sh");
        if (!Files.exists(script)) script = Path.of("..", "guest", "scripts", "build-kernel.sh");
        try {
            Process p = new ProcessBuilder("bash", script.toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(20, TimeUnit.MINUTES) || p.exitValue() != 0) {
                kernelProblem = script + " failed (exit " + p.exitValue() + ")";
                return null;
            }
            Path k = Path.of(out.substring(out.lastIndexOf('\n') + 1));
            if (!Files.isRegularFile(k)) {
                kernelProblem = script + " printed " + k + ", which is not a file";
                return null;
            }
            kernel = k;
        } catch (IOException e) {
            kernelProblem = "cannot run " + script + ": " + e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kernelProblem = "interrupted while building the kernel";
        }
        return kernel;
    }

    static synchronized String kernelProblem() {
        return kernelProblem;
    }

    /** Builds the root image in {@code work}; returns its path. */
    static Path buildImage(Path work) throws IOException, InterruptedException {
        return buildImage(work, INIT, java.util.Map.of(), 16);
    }

    /**
     * Builds a root image of {@code sizeMiB} with {@code init} as /sbin/init and {@code extra} files
     * (path in the image, relative, to the host file copied there, made executable); returns its path.
     */
    static Path buildImage(Path work, String init, java.util.Map<String, Path> extra, int sizeMiB)
            throws IOException, InterruptedException {
        Path root = work.resolve("rootfs");
        Path bin = Files.createDirectories(root.resolve("bin"));
        for (String d : List.of("sbin", "proc", "sys", "dev", "mnt", "tmp")) Files.createDirectories(root.resolve(d));
        for (var e : extra.entrySet()) {
            Path to = root.resolve(e.getKey());
            Files.createDirectories(to.getParent());
            Files.copy(e.getValue(), to);
            Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
        Process list = new ProcessBuilder("/bin/busybox", "--list").start();
        String applets = new String(list.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        list.waitFor();
        for (String applet : applets.split("\n")) {
            if (!applet.isBlank() && !applet.equals("busybox")) Files.createSymbolicLink(bin.resolve(applet.strip()), Path.of("busybox"));
        }
        Path initFile = root.resolve("sbin/init");
        Files.writeString(initFile, init);
        Files.setPosixFilePermissions(initFile, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path image = work.resolve("root.ext4");
        Process mkfs = new ProcessBuilder(mkfs().toString(), "-q", "-d", root.toString(), image.toString(), sizeMiB + "M")
                .redirectErrorStream(true).start();
        String out = new String(mkfs.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (mkfs.waitFor() != 0) throw new IOException("mkfs.ext4 failed: " + out);
        return image;
    }

    /**
     * The start of a test init that talks to its test: PATH, /proc, /sys, /dev, tmpfs on /tmp and
     * /mnt, and fd 3 opened on the agent.0 port (the test's {@link SerialConnection}).
     */
    static final String PREAMBLE = MOUNTS + """
            mount -t tmpfs tmp /tmp
            mount -t tmpfs mnt /mnt
            dev=
            for p in /sys/class/virtio-ports/*; do [ "$(cat "$p/name")" = agent.0 ] && dev=/dev/${p##*/}; done
            exec 3<>"$dev"
            """;

    /**
     * Skips the calling test (printing why, as "SKIPPED {@code who}: reason") unless this host can
     * boot test guests: QEMU, busybox, mkfs.ext4 and the guest kernel.
     */
    static void assumeGuestsCanRun(String who) {
        String problem = hostProblem();
        if (problem == null && kernel() == null) problem = kernelProblem();
        if (problem != null) System.out.println("SKIPPED " + who + ": " + problem);
        org.junit.jupiter.api.Assumptions.assumeTrue(problem == null, problem);
    }

    /** Whether the test prerequisites besides the kernel are on this host; null if so, else why not. */
    static String hostProblem() {
        if (!Files.isExecutable(Path.of("/bin/busybox"))) return "/bin/busybox missing: apt-get install busybox-static";
        if (mkfs() == null) return "mkfs.ext4 missing: apt-get install e2fsprogs";
        var availability = new QemuProvider().availability();
        return availability.available() ? null : availability.reason();
    }

    private static Path mkfs() {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            Path p = Path.of(dir, "mkfs.ext4");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }
}
