package dev.kava.agent.channel;

import java.util.concurrent.ThreadFactory;

/** Thread factories for connections whose reads block in native calls. */
public final class Channels {
    private Channels() {}

    /** Daemon platform threads with small stacks, named {@code prefix-N}. */
    public static ThreadFactory platform(String prefix) {
        return Thread.ofPlatform().daemon().stackSize(512 * 1024).name(prefix + "-", 0).factory();
    }
}
