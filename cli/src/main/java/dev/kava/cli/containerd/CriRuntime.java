package dev.kava.cli.containerd;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A CRI runtime handler: a {@code [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.NAME]} table.
 *
 * @param name           the handler name pods ask for ({@code RunPodSandboxRequest.runtime_handler})
 * @param type           the shim, {@code io.containerd.NAME.v2}: containerd runs {@code containerd-shim-NAME-v2}
 * @param options        the {@code .options} table handed to the shim (String, Boolean or Number values)
 * @param podAnnotations annotation patterns CRI passes from the pod to the shim
 */
public record CriRuntime(String name, String type, Map<String, Object> options, List<String> podAnnotations) {
    public CriRuntime {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        if (!name.matches("[A-Za-z0-9_.-]+")) {
            throw new IllegalArgumentException("runtime handler name " + name + " must be [A-Za-z0-9_.-]+");
        }
        options = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(options));
        podAnnotations = List.copyOf(podAnnotations);
    }

    /** {@code runc}: {@code io.containerd.runc.v2} with cgroupfs (this host's hybrid cgroup v1 layout). */
    public static CriRuntime runc() {
        return new CriRuntime("runc", "io.containerd.runc.v2", Map.of("SystemdCgroup", false), List.of());
    }

    /** {@code kava}: {@code io.containerd.kava.v2}, that is {@code containerd-shim-kava-v2}. */
    public static CriRuntime kava() {
        return new CriRuntime("kava", "io.containerd.kava.v2", Map.of(), List.of("io.kava.*"));
    }
}
