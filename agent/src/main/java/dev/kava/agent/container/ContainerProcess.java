package dev.kava.agent.container;

import dev.kava.agent.stream.ProcessStdio;
import java.util.concurrent.CompletableFuture;

/** One process of a container (its init or an exec): pid, stdio, and exit status to come. */
final class ContainerProcess {
    final String execId;
    /** Null until a terminal arrives from crun (exec with terminal), or when none ever came. */
    volatile ProcessStdio stdio;
    /** The exit status: the code, or 128 + signal. */
    final CompletableFuture<Integer> exit = new CompletableFuture<>();
    volatile int pid;
    /** For an exec: the foreground {@code crun exec}, whose exit status is the process's. */
    volatile Process crun;

    ContainerProcess(String execId, ProcessStdio stdio) {
        this.execId = execId;
        this.stdio = stdio;
    }

    boolean exited() {
        return exit.isDone();
    }

    /** Closes the stdio. */
    void release() {
        ProcessStdio s = stdio;
        if (s != null) {
            s.close();
        }
    }
}
