package dev.kava.cli.containerd;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How to start a {@link PrivateContainerd}. Start from {@link #defaults()} and change fields with the
 * {@code with...} methods.
 *
 * @param parentDir      where the private directory {@code kava-ctrd-XXXXXXXX} is created; keep it short,
 *                       unix socket paths are limited to 107 bytes
 * @param namespace      the containerd namespace {@link PrivateContainerd#ctr} works in
 * @param extraPath      a directory put first on containerd's PATH (where {@code containerd-shim-kava-v2}
 *                       is), or null
 * @param env            more environment variables for containerd; shims inherit them
 * @param sandboxImage   the CRI pod sandbox ("pause") image; it must be imported, nothing is pulled
 * @param runtimes       the CRI runtime handlers
 * @param defaultRuntime the CRI handler used when a pod names none
 * @param debug          containerd logs at debug level, and starts shims with {@code -debug}
 * @param startTimeout   how long containerd may take to answer
 * @param stopTimeout    how long containerd may take to exit after SIGTERM before it gets SIGKILL
 * @param commandTimeout how long one {@code ctr} command may take before it is killed
 */
public record ContainerdOptions(Path parentDir, String namespace, Path extraPath, Map<String, String> env,
                                String sandboxImage, List<CriRuntime> runtimes, String defaultRuntime, boolean debug,
                                Duration startTimeout, Duration stopTimeout, Duration commandTimeout) {
    /** The namespace of the CRI plugin: pods, their containers and the images they use live there. */
    public static final String CRI_NAMESPACE = "k8s.io";

    public ContainerdOptions {
        Objects.requireNonNull(parentDir, "parentDir");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(sandboxImage, "sandboxImage");
        Objects.requireNonNull(defaultRuntime, "defaultRuntime");
        Objects.requireNonNull(startTimeout, "startTimeout");
        Objects.requireNonNull(stopTimeout, "stopTimeout");
        Objects.requireNonNull(commandTimeout, "commandTimeout");
        env = Map.copyOf(env);
        runtimes = List.copyOf(runtimes);
        if (runtimes.stream().noneMatch(r -> r.name().equals(defaultRuntime))) {
            throw new IllegalArgumentException("default runtime " + defaultRuntime + " is not among the runtimes "
                    + runtimes.stream().map(CriRuntime::name).toList());
        }
    }

    /**
     * Under {@code /run}, namespace {@code kava-test}, sandbox image {@link LocalImages#PAUSE}, runtimes
     * {@code runc} (the default) and {@code kava}, 20 s to start, 5 s to stop, 120 s per ctr command.
     */
    public static ContainerdOptions defaults() {
        return new ContainerdOptions(Path.of("/run"), "kava-test", null, Map.of(), LocalImages.PAUSE,
                List.of(CriRuntime.runc(), CriRuntime.kava()), "runc", false,
                Duration.ofSeconds(20), Duration.ofSeconds(5), Duration.ofSeconds(120));
    }

    public ContainerdOptions withParentDir(Path v) {
        return new ContainerdOptions(v, namespace, extraPath, env, sandboxImage, runtimes, defaultRuntime, debug, startTimeout, stopTimeout, commandTimeout);
    }

    public ContainerdOptions withNamespace(String v) {
        return new ContainerdOptions(parentDir, v, extraPath, env, sandboxImage, runtimes, defaultRuntime, debug, startTimeout, stopTimeout, commandTimeout);
    }

    public ContainerdOptions withExtraPath(Path v) {
        return new ContainerdOptions(parentDir, namespace, v, env, sandboxImage, runtimes, defaultRuntime, debug, startTimeout, stopTimeout, commandTimeout);
    }

    public ContainerdOptions withEnv(Map<String, String> v) {
        return new ContainerdOptions(parentDir, namespace, extraPath, v, sandboxImage, runtimes, defaultRuntime, debug, startTimeout, stopTimeout, commandTimeout);
    }

    public ContainerdOptions withSandboxImage(String v) {
        return new ContainerdOptions(parentDir, namespace, extraPath, env, v, runtimes, defaultRuntime, debug, startTimeout, stopTimeout, commandTimeout);
    }

    public ContainerdOptions withRuntimes(List<CriRuntime> v, String defaultName) {
        return new ContainerdOptions(parentDir, namespace, extraPath, env, sandboxImage, v, defaultName, debug, startTimeout, stopTimeout, commandTimeout);
    }

    public ContainerdOptions withDebug(boolean v) {
        return new ContainerdOptions(parentDir, namespace, extraPath, env, sandboxImage, runtimes, defaultRuntime, v, startTimeout, stopTimeout, commandTimeout);
    }

    public ContainerdOptions withStartTimeout(Duration v) {
        return new ContainerdOptions(parentDir, namespace, extraPath, env, sandboxImage, runtimes, defaultRuntime, debug, v, stopTimeout, commandTimeout);
    }

    public ContainerdOptions withStopTimeout(Duration v) {
        return new ContainerdOptions(parentDir, namespace, extraPath, env, sandboxImage, runtimes, defaultRuntime, debug, startTimeout, v, commandTimeout);
    }

    public ContainerdOptions withCommandTimeout(Duration v) {
        return new ContainerdOptions(parentDir, namespace, extraPath, env, sandboxImage, runtimes, defaultRuntime, debug, startTimeout, stopTimeout, v);
    }
}
