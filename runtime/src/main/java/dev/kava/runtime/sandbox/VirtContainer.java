package dev.kava.runtime.sandbox;

import com.google.protobuf.ByteString;
import dev.kava.runtime.agent.AgentClient;
import dev.kava.runtime.container.Container;
import dev.kava.runtime.resource.BindVolume;
import dev.kava.runtime.resource.OverlayRootfs;
import java.util.List;

/** A container inside a VM sandbox: every operation is an agent call. */
final class VirtContainer implements Container {
    private final String id;
    private final AgentClient agent;
    private final OverlayRootfs rootfs;
    private final List<BindVolume> volumes;
    private final Timeline timeline;
    private final Runnable onRemoved;
    private boolean removed;

    VirtContainer(String id, AgentClient agent, OverlayRootfs rootfs, List<BindVolume> volumes, Timeline timeline,
                  Runnable onRemoved) {
        this.id = id;
        this.agent = agent;
        this.rootfs = rootfs;
        this.volumes = List.copyOf(volumes);
        this.timeline = timeline;
        this.onRemoved = onRemoved;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public void start() {
        agent.startContainer(id);
        timeline.mark("container-started");
    }

    @Override
    public byte[] readStdout(int max) {
        return agent.readStdout(id, id, max).toByteArray();
    }

    @Override
    public byte[] readStderr(int max) {
        return agent.readStderr(id, id, max).toByteArray();
    }

    @Override
    public void writeStdin(byte[] data) {
        agent.writeStdin(id, id, ByteString.copyFrom(data));
    }

    @Override
    public void closeStdin() {
        agent.closeStdin(id, id);
    }

    @Override
    public void resizeTty(int rows, int cols) {
        agent.ttyWinResize(id, id, rows, cols);
    }

    @Override
    public void signal(int signal, boolean all) {
        agent.signalProcess(id, "", signal, all);
    }

    @Override
    public int waitExit() {
        int status = agent.waitProcess(id, id);
        timeline.mark("container-exited");
        return status;
    }

    @Override
    public synchronized void remove() {
        if (removed) return;
        removed = true;
        try {
            if (agent.isOpen()) {
                agent.removeContainer(id, 0);
            }
        } finally {
            for (BindVolume v : volumes.reversed()) {
                try {
                    v.close();
                } catch (RuntimeException e) {
                    java.util.logging.Logger.getLogger(VirtContainer.class.getName()).warning(v.describe() + ": " + e.getMessage());
                }
            }
            rootfs.close();
            onRemoved.run();
        }
    }
}
