package dev.kava.agent.container;

import dev.kava.agent.AgentErrors;
import dev.kava.agent.Interruptible;
import dev.kava.agent.stream.OutputBuffer;
import dev.kava.agent.stream.ProcessStdio;
import dev.kava.ttrpc.CallContext;
import dev.kava.ttrpc.TtrpcException;

/** WriteStdin, CloseStdin, ReadStdout, ReadStderr and TtyWinResize on a container's processes. */
public final class ProcessStreams {
    /** Default and largest read: the ttrpc message limit leaves ample room above this. */
    public static final int DEFAULT_READ = 32 * 1024;
    public static final int MAX_READ = 1024 * 1024;

    private final ContainerService containers;

    public ProcessStreams(ContainerService containers) {
        this.containers = containers;
    }

    private ProcessStdio stdio(String containerId, String execId) throws TtrpcException {
        ContainerProcess p = containers.process(containerId, execId);
        ProcessStdio s = p.stdio;
        if (s == null) {
            throw AgentErrors.precondition("process " + name(containerId, execId) + " has no stdio");
        }
        return s;
    }

    private static String name(String containerId, String execId) {
        return execId == null || execId.isEmpty() ? containerId : containerId + "/" + execId;
    }

    public int writeStdin(String containerId, String execId, byte[] data, CallContext ctx) throws Exception {
        ProcessStdio s = stdio(containerId, execId);
        return Interruptible.await(ctx, () -> s.stdin().write(data));
    }

    public void closeStdin(String containerId, String execId) throws TtrpcException {
        stdio(containerId, execId).stdin().close();
    }

    /** Blocks until at least one byte or end of stream; empty = end of stream. */
    public byte[] read(String containerId, String execId, boolean stderr, int len, CallContext ctx)
            throws Exception {
        ProcessStdio s = stdio(containerId, execId);
        OutputBuffer b = stderr ? s.stderr() : s.stdout();
        int max = len <= 0 ? DEFAULT_READ : Math.min(len, MAX_READ);
        return Interruptible.await(ctx, () -> b.take(max));
    }

    public void resize(String containerId, String execId, int rows, int cols) throws TtrpcException {
        ProcessStdio s = stdio(containerId, execId);
        if (rows < 0 || cols < 0 || rows > 0xffff || cols > 0xffff) {
            throw AgentErrors.invalid("window size " + rows + "x" + cols + " is out of range");
        }
        if (!s.resize(rows, cols)) {
            throw AgentErrors.precondition("process " + name(containerId, execId) + " has no terminal");
        }
    }
}
