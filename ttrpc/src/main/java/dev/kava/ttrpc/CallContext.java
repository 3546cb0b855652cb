package dev.kava.ttrpc;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;

/**
 * What a handler knows about its call besides the request: the method, the client's metadata,
 * the deadline, and whether the call was cancelled (deadline passed, connection closed).
 */
public final class CallContext {
    private final String service;
    private final String method;
    private final Map<String, List<String>> metadata;
    private final Instant deadline;
    private volatile boolean cancelled;
    private List<Runnable> onCancel;

    CallContext(String service, String method, Map<String, List<String>> metadata,
            Instant deadline) {
        this.service = service;
        this.method = method;
        this.metadata = metadata;
        this.deadline = deadline;
    }

    public String service() {
        return service;
    }

    public String method() {
        return method;
    }

    /** The request's metadata, unmodifiable; a key may carry several values, in order. */
    public Map<String, List<String>> metadata() {
        return metadata;
    }

    /** When the client stops waiting ({@code timeout_nano} after arrival), or null for none. */
    public Instant deadline() {
        return deadline;
    }

    /** The time left before the deadline (negative once past), or null without a deadline. */
    public Duration remaining() {
        return deadline == null ? null : Duration.between(Instant.now(), deadline);
    }

    /** True once the deadline passed or the connection closed: the answer will not be sent. */
    public boolean isCancelled() {
        return cancelled;
    }

    /**
     * Runs {@code action} when the call is cancelled (at once if it already is), on the thread
     * that cancels it: keep it short and non-blocking, e.g. wake what the handler waits on.
     */
    public void onCancel(Runnable action) {
        synchronized (this) {
            if (!cancelled) {
                if (onCancel == null) {
                    onCancel = new ArrayList<>(1);
                }
                onCancel.add(action);
                return;
            }
        }
        runQuietly(action);
    }

    void cancel() {
        List<Runnable> actions;
        synchronized (this) {
            if (cancelled) {
                return;
            }
            cancelled = true;
            actions = onCancel;
            onCancel = null;
        }
        if (actions != null) {
            actions.forEach(CallContext::runQuietly);
        }
    }

    private static void runQuietly(Runnable action) {
        try {
            action.run();
        } catch (RuntimeException e) {
            Statuses.LOG.log(Level.WARNING, "onCancel action failed", e);
        }
    }

    @Override
    public String toString() {
        return "CallContext[" + service + "/" + method + ", deadline " + deadline
                + (cancelled ? ", cancelled]" : "]");
    }
}
