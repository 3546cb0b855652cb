package dev.kava.shim.events;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.Empty;
import dev.kava.api.containerd.events.TaskExit;
import dev.kava.api.containerd.events.TaskStart;
import dev.kava.api.containerd.services.events.Envelope;
import dev.kava.api.containerd.services.events.ForwardRequest;
import dev.kava.ttrpc.CallContext;
import dev.kava.ttrpc.TtrpcServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The publisher against a ttrpc server that stands in for containerd's event service (the integration
 * tests use the real containerd; here the service is absent on purpose, which containerd cannot be made
 * to do on demand).
 */
class EventPublisherTest {
    @TempDir
    Path tmp;

    private static TtrpcServer eventService(LinkedBlockingQueue<Envelope> got) {
        return new TtrpcServer().register(EventPublisher.SERVICE, "Forward", ForwardRequest.parser(),
                (ForwardRequest r, CallContext c) -> {
                    got.add(r.getEnvelope());
                    return Empty.getDefaultInstance();
                });
    }

    @Test
    void eventsArriveInOrderWithContainerdsTypeUrls() throws Exception {
        Path sock = tmp.resolve("ttrpc.sock");
        LinkedBlockingQueue<Envelope> got = new LinkedBlockingQueue<>();
        try (TtrpcServer server = eventService(got)) {
            server.listen(sock);
            EventPublisher p = new EventPublisher("unix://" + sock, "k8s.io");
            for (int i = 0; i < 50; i++) {
                p.publish(Topics.START, TaskStart.newBuilder().setContainerId("c" + i).setPid(i).build());
            }
            p.publish(Topics.EXIT, TaskExit.newBuilder().setContainerId("c1").setExitStatus(3).build());
            for (int i = 0; i < 50; i++) {
                Envelope e = got.poll(10, TimeUnit.SECONDS);
                assertNotNull(e);
                assertEquals("/tasks/start", e.getTopic());
                assertEquals("k8s.io", e.getNamespace());
                assertEquals("containerd.events.TaskStart", e.getEvent().getTypeUrl());
                assertEquals("c" + i, TaskStart.parseFrom(e.getEvent().getValue()).getContainerId());
                assertTrue(e.getTimestamp().getSeconds() > 0);
            }
            Envelope exit = got.poll(10, TimeUnit.SECONDS);
            assertEquals("containerd.events.TaskExit", exit.getEvent().getTypeUrl());
            assertEquals(3, TaskExit.parseFrom(exit.getEvent().getValue()).getExitStatus());
            p.close(Duration.ofSeconds(2));
        }
    }

    @Test
    void anEventWaitsForContainerdToComeBack() throws Exception {
        Path sock = tmp.resolve("late.sock");
        LinkedBlockingQueue<Envelope> got = new LinkedBlockingQueue<>();
        EventPublisher p = new EventPublisher(sock.toString(), "default");
        p.publish(Topics.EXIT, TaskExit.newBuilder().setContainerId("c").build());
        Thread.sleep(300);   // containerd is restarting
        try (TtrpcServer server = eventService(got)) {
            server.listen(sock);
            Envelope e = got.poll(10, TimeUnit.SECONDS);
            assertNotNull(e, "delivered once the service is back");
            assertEquals("/tasks/exit", e.getTopic());
            p.close(Duration.ofSeconds(2));
        }
    }
}
