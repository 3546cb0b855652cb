package dev.kava.shim.events;

import com.google.protobuf.Any;
import com.google.protobuf.Empty;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Timestamp;
import dev.kava.api.containerd.services.events.Envelope;
import dev.kava.api.containerd.services.events.ForwardRequest;
import dev.kava.ttrpc.ByteStreams;
import dev.kava.ttrpc.TtrpcClient;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Publishes task events to containerd's {@code Events.Forward} on {@code TTRPC_ADDRESS}, in order, from
 * one virtual thread. Type URLs are containerd's bare names ({@code containerd.events.TaskExit}). When
 * containerd is away (restarting) the publisher reconnects and retries for up to a minute per event, so
 * an exit is not lost across a containerd restart; it never blocks the caller.
 */
public final class EventPublisher {
    private static final Logger LOG = Logger.getLogger(EventPublisher.class.getName());
    static final String SERVICE = "containerd.services.events.ttrpc.v1.Events";
    private static final Duration RETRY_FOR = Duration.ofSeconds(60);

    private record Pending(Envelope envelope) {}

    private final String address;
    private final String namespace;
    private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final Thread sender;
    private static final Object STOP = new Object();
    private TtrpcClient client;
    private volatile boolean closed;

    /** {@code address} is containerd's ttrpc socket; empty means events are only logged. */
    public EventPublisher(String address, String namespace) {
        this.address = address.startsWith("unix://") ? address.substring(7) : address;
        this.namespace = namespace;
        this.sender = Thread.ofVirtual().name("shim-events").start(this::sendLoop);
    }

    /** Queues an event for {@code topic} (e.g. {@code /tasks/exit}). */
    public void publish(String topic, MessageLite event) {
        if (closed) return;
        Instant now = Instant.now();
        String type = "containerd.events." + event.getClass().getSimpleName();
        Envelope e = Envelope.newBuilder()
                .setTimestamp(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
                .setNamespace(namespace)
                .setTopic(topic)
                .setEvent(Any.newBuilder().setTypeUrl(type).setValue(event.toByteString()))
                .build();
        queue.add(new Pending(e));
    }

    private void sendLoop() {
        while (true) {
            Object next;
            try {
                next = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (next == STOP) return;
            send(((Pending) next).envelope());
        }
    }

    private void send(Envelope e) {
        if (address.isEmpty()) {
            LOG.fine("event " + e.getTopic() + " (no TTRPC_ADDRESS)");
            return;
        }
        Instant giveUp = Instant.now().plus(RETRY_FOR);
        long backoff = 20;
        while (true) {
            try {
                if (client == null || !client.isOpen()) {
                    client = new TtrpcClient(ByteStreams.connectUnix(Path.of(address)));
                }
                client.call(SERVICE, "Forward", ForwardRequest.newBuilder().setEnvelope(e).build(), Empty.parser(),
                        Duration.ofSeconds(5));
                LOG.fine("published " + e.getTopic());
                return;
            } catch (IOException | RuntimeException ex) {
                if (client != null) {
                    client.close();
                    client = null;
                }
                if (Instant.now().isAfter(giveUp) || closed && queue.isEmpty() && Thread.currentThread().isInterrupted()) {
                    LOG.log(Level.WARNING, "dropping event " + e.getTopic() + ": " + ex.getMessage());
                    return;
                }
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException ie) {
                    LOG.warning("dropping event " + e.getTopic() + " at exit: " + ex.getMessage());
                    return;
                }
                backoff = Math.min(backoff * 2, 1000);
            }
        }
    }

    /** Sends what is queued (waiting at most {@code grace}), then stops. */
    public void close(Duration grace) {
        if (closed) return;
        closed = true;
        queue.add(STOP);
        try {
            if (!sender.join(grace)) {
                sender.interrupt();
                sender.join(Duration.ofMillis(200));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (client != null) client.close();
    }
}
