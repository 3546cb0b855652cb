package dev.kava.cli.containerd;

import java.util.List;
import java.util.Map;

/** Renders a version 2 containerd config.toml whose every path lies in the private directory. */
final class ConfigToml {
    /**
     * Snapshotters that cannot work on this kind of host (no btrfs, zfs, devmapper pool or aufs module):
     * each would only log why it skipped itself.
     */
    static final List<String> DISABLED_PLUGINS = List.of(
            "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
            "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs");
    private static final String CRI = "plugins.\"io.containerd.grpc.v1.cri\"";

    private ConfigToml() {}

    static String render(Layout l, ContainerdOptions o) {
        StringBuilder b = new StringBuilder();
        b.append("# written by kava's PrivateContainerd\n");
        b.append("version = 2\n");
        b.append("root = ").append(str(l.root())).append('\n');
        b.append("state = ").append(str(l.state())).append('\n');
        b.append("disabled_plugins = ").append(list(DISABLED_PLUGINS)).append("\n\n");
        b.append("[grpc]\n  address = ").append(str(l.socket())).append("\n\n");
        b.append("[ttrpc]\n  address = ").append(str(l.ttrpcSocket())).append("\n\n");
        if (o.debug()) {
            b.append("[debug]\n  level = \"debug\"\n\n");
        }
        // the opt plugin would otherwise create /opt/containerd on the host
        b.append("[plugins.\"io.containerd.internal.v1.opt\"]\n  path = ").append(str(l.opt())).append("\n\n");
        b.append('[').append(CRI).append("]\n");
        b.append("  sandbox_image = ").append(str(o.sandboxImage())).append('\n');
        // CRI gives the sandbox container oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which these
        // machines withhold even from root (runc's init then dies: "can't get final child's PID from pipe").
        // Restricted, CRI never asks for less than containerd's own score.
        b.append("  restrict_oom_score_adj = true\n");
        // pods use the host network: no CNI plugin is configured, but the CNI directories must not be the
        // host's /etc/cni/net.d and /opt/cni/bin (CRI creates and watches conf_dir)
        b.append("  [").append(CRI).append(".cni]\n");
        b.append("    bin_dir = ").append(str(l.cniBinDir())).append('\n');
        b.append("    conf_dir = ").append(str(l.cniConfDir())).append('\n');
        b.append("  [").append(CRI).append(".containerd]\n");
        b.append("    snapshotter = \"overlayfs\"\n");
        b.append("    default_runtime_name = ").append(str(o.defaultRuntime())).append('\n');
        for (CriRuntime r : o.runtimes()) {
            String table = CRI + ".containerd.runtimes." + r.name();
            b.append("    [").append(table).append("]\n");
            b.append("      runtime_type = ").append(str(r.type())).append('\n');
            if (!r.podAnnotations().isEmpty()) {
                b.append("      pod_annotations = ").append(list(r.podAnnotations())).append('\n');
            }
            if (!r.options().isEmpty()) {
                b.append("      [").append(table).append(".options]\n");
                for (Map.Entry<String, Object> e : r.options().entrySet()) {
                    b.append("        ").append(e.getKey()).append(" = ").append(value(e.getValue())).append('\n');
                }
            }
        }
        return b.toString();
    }

    private static String value(Object v) {
        return switch (v) {
            case Boolean bool -> bool.toString();
            case Number n -> n.toString();
            case String s -> str(s);
            default -> throw new IllegalArgumentException("runtime option values are String, Boolean or Number, not " + v.getClass());
        };
    }

    private static String list(List<String> items) {
        return "[" + String.join(", ", items.stream().map(ConfigToml::str).toList()) + "]";
    }

    private static String str(Object s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toString().toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
