package dev.kava.shim;

import com.google.protobuf.Empty;
import dev.kava.api.agent.CgroupStats;
import dev.kava.api.containerd.events.TaskCreate;
import dev.kava.api.containerd.task.ConnectRequest;
import dev.kava.api.containerd.task.ConnectResponse;
import dev.kava.api.containerd.task.CreateTaskRequest;
import dev.kava.api.containerd.task.CreateTaskResponse;
import dev.kava.api.containerd.task.ShutdownRequest;
import dev.kava.api.containerd.task.StateRequest;
import dev.kava.api.containerd.task.StateResponse;
import dev.kava.runtime.config.KavaConfig;
import dev.kava.shim.events.EventPublisher;
import dev.kava.shim.events.Topics;
import dev.kava.shim.task.Pod;
import dev.kava.shim.task.TaskService;
import dev.kava.ttrpc.ByteStreams;
import dev.kava.ttrpc.TtrpcClient;
import dev.kava.ttrpc.TtrpcException;
import dev.kava.ttrpc.TtrpcServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * {@code train}: a representative start of the daemon, in-process and without a VM, so that the JDK's
 * ahead-of-time cache recorded from it ({@code ./kava prepare} does that) holds what a real shim loads
 * before it answers containerd: the socket bound and renamed, logging, the ttrpc server with the Task
 * service, Connect, State and a refused Create, an event built, the cgroup metrics type.
 */
final class ShimTraining {
    private ShimTraining() {}

    static int run() throws IOException {
        Path dir = Files.createTempDirectory("kava-shim-train");
        try {
            Path sock = dir.resolve("shim.sock");
            var listener = ShimMain.bind(sock);
            ShimLog.install(dir.resolve("log"), true);
            ShimTimeline.mark("train", "serve-bound");
            EventPublisher events = new EventPublisher("", "train");
            ShimArgs args = ShimArgs.parse(new String[] {"-namespace", "train", "-id", "train", "-bundle", dir.toString(), "serve"});
            Pod pod = new Pod(args, KavaConfig.defaults(KavaConfig.DEFAULT_CACHE), events, () -> {});
            TtrpcServer server = new TtrpcServer();
            new TaskService(pod).register(server);
            server.serve(listener, sock);
            try (TtrpcClient c = new TtrpcClient(ByteStreams.connectUnix(sock))) {
                Duration t = Duration.ofSeconds(10);
                c.call(TaskService.SERVICE, "Connect", ConnectRequest.newBuilder().setId("train").build(), ConnectResponse.parser(), t);
                expectFailure(() -> c.call(TaskService.SERVICE, "State", StateRequest.newBuilder().setId("train").build(),
                        StateResponse.parser(), t));
                expectFailure(() -> c.call(TaskService.SERVICE, "Create", CreateTaskRequest.newBuilder().setId("train")
                        .setBundle(dir.toString()).build(), CreateTaskResponse.parser(), t));
                c.call(TaskService.SERVICE, "Shutdown", ShutdownRequest.newBuilder().setId("train").build(), Empty.parser(), t);
            }
            events.publish(Topics.CREATE, TaskCreate.newBuilder().setContainerId("train").build());
            dev.kava.shim.task.Training.exercise(CgroupStats.getDefaultInstance());
            events.close(Duration.ofSeconds(1));
            pod.close();
            server.close();
            return 0;
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private interface Call {
        void run() throws Exception;
    }

    private static void expectFailure(Call c) throws IOException {
        try {
            c.run();
            throw new IOException("training: a call that must fail succeeded");
        } catch (TtrpcException e) {
            // as expected
        } catch (Exception e) {
            throw new IOException(e);
        }
    }
}
