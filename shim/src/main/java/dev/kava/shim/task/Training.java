package dev.kava.shim.task;

import dev.kava.api.agent.CgroupStats;
import dev.kava.runtime.resource.MountLedger;
import dev.kava.ttrpc.TtrpcException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** The task package's share of the shim's training run: a spec rewritten for the guest, metrics converted. */
public final class Training {
    private static final String SPEC = """
            {"ociVersion":"1.0.2","process":{"terminal":false,"user":{"uid":0,"gid":0},"args":["true"],
            "env":["PATH=/bin"],"cwd":"/","apparmorProfile":"x"},"root":{"path":"rootfs"},"hostname":"train",
            "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
            {"destination":"/dev/shm","type":"bind","source":"/dev/shm","options":["rbind"]}],
            "linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/var/run/netns/x"},{"type":"mount"}]}}""";

    private Training() {}

    public static void exercise(CgroupStats stats) throws TtrpcException {
        MountLedger ledger = new MountLedger() {
            @Override
            public void willMount(String mountPoint) {}

            @Override
            public void unmounted(String mountPoint) {}
        };
        ContainerMounts mounts = new ContainerMounts("train", Path.of("/nonexistent/train"), ledger);
        GuestSpec.forGuest(GuestSpec.parse(SPEC.getBytes(StandardCharsets.UTF_8), "spec"), "train", mounts);
        Stats.toAny(stats);
    }
}
