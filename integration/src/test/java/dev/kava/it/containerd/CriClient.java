package dev.kava.it.containerd;

import com.google.protobuf.MessageLite;
import dev.kava.it.containerd.cri.ContainerConfig;
import dev.kava.it.containerd.cri.ContainerStats;
import dev.kava.it.containerd.cri.ContainerStatsRequest;
import dev.kava.it.containerd.cri.ContainerStatus;
import dev.kava.it.containerd.cri.ContainerStatusRequest;
import dev.kava.it.containerd.cri.CreateContainerRequest;
import dev.kava.it.containerd.cri.ExecSyncRequest;
import dev.kava.it.containerd.cri.ExecSyncResponse;
import dev.kava.it.containerd.cri.Image;
import dev.kava.it.containerd.cri.ImageSpec;
import dev.kava.it.containerd.cri.ImageStatusRequest;
import dev.kava.it.containerd.cri.ListContainersRequest;
import dev.kava.it.containerd.cri.ListContainersResponse;
import dev.kava.it.containerd.cri.ListImagesRequest;
import dev.kava.it.containerd.cri.ListImagesResponse;
import dev.kava.it.containerd.cri.ListPodSandboxRequest;
import dev.kava.it.containerd.cri.ListPodSandboxResponse;
import dev.kava.it.containerd.cri.PodSandbox;
import dev.kava.it.containerd.cri.PodSandboxConfig;
import dev.kava.it.containerd.cri.PodSandboxStatus;
import dev.kava.it.containerd.cri.PodSandboxStatusRequest;
import dev.kava.it.containerd.cri.PodSandboxStatusResponse;
import dev.kava.it.containerd.cri.RemoveContainerRequest;
import dev.kava.it.containerd.cri.RemovePodSandboxRequest;
import dev.kava.it.containerd.cri.RunPodSandboxRequest;
import dev.kava.it.containerd.cri.StartContainerRequest;
import dev.kava.it.containerd.cri.StopContainerRequest;
import dev.kava.it.containerd.cri.StopPodSandboxRequest;
import dev.kava.it.containerd.cri.VersionRequest;
import dev.kava.it.containerd.cri.VersionResponse;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.protobuf.lite.ProtoLiteUtils;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A CRI client ({@code runtime.v1.RuntimeService} and {@code ImageService}) over containerd's gRPC unix
 * socket: the calls a pod test makes, each a blocking unary call with a deadline. Method descriptors are
 * built here from the lite messages generated from {@code src/test/protobuf/cri/api.proto}, so no gRPC code
 * generator is needed; {@link #call} reaches any other method.
 */
public final class CriClient implements AutoCloseable {
    /** The gRPC service names of CRI v1. */
    public static final String RUNTIME_SERVICE = "runtime.v1.RuntimeService";
    public static final String IMAGE_SERVICE = "runtime.v1.ImageService";
    private static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(60);
    /**
     * gRPC asks every Netty channel for SO_KEEPALIVE, which a unix socket channel does not know: Netty warns on
     * each connection. Held here so the level sticks (java.util.logging keeps loggers weakly).
     */
    private static final java.util.logging.Logger BOOTSTRAP_LOG = quiet("io.grpc.netty.shaded.io.netty.bootstrap");

    /** A CRI call failed: the gRPC status says how. */
    public static final class CriException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final transient Status status;

        CriException(String method, StatusRuntimeException cause) {
            super("CRI " + method + " failed: " + cause.getStatus().getCode() + ": " + cause.getStatus().getDescription(), cause);
            this.status = cause.getStatus();
        }

        public Status.Code code() {
            return status.getCode();
        }
    }

    private final String socket;
    private final EventLoopGroup group;
    private final ManagedChannel channel;
    private final Map<String, MethodDescriptor<?, ?>> methods = new ConcurrentHashMap<>();
    private volatile Duration deadline = DEFAULT_DEADLINE;

    private CriClient(String socket) {
        this.socket = socket;
        this.group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        this.channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket))
                .eventLoopGroup(group)
                .channelType(EpollDomainSocketChannel.class)
                .usePlaintext()
                .overrideAuthority("localhost")   // a socket path is no authority
                .maxInboundMessageSize(16 << 20)
                .build();
    }

    /**
     * Connects to containerd's gRPC socket and waits until the CRI plugin answers {@code Version}: it finishes
     * initialising (recovering state, starting its event monitor) a little after containerd accepts calls.
     */
    public static CriClient connect(String socket, Duration readyTimeout) {
        CriClient c = new CriClient(socket);
        long end = System.nanoTime() + readyTimeout.toNanos();
        RuntimeException last = null;
        try {
            while (System.nanoTime() < end) {
                try {
                    c.version();
                    return c;
                } catch (CriException e) {
                    last = e;
                }
                Thread.sleep(20);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            last = new IllegalStateException("interrupted", e);
        }
        c.close();
        throw new IllegalStateException("CRI on " + socket + " did not answer Version within " + readyTimeout.toMillis() + " ms", last);
    }

    /** The deadline of each call (default 60 s; ExecSync gets its own timeout on top). */
    public CriClient withDeadline(Duration d) {
        this.deadline = d;
        return this;
    }

    public VersionResponse version() {
        return runtime("Version", VersionRequest.newBuilder().setVersion("v1").build(), VersionResponse.getDefaultInstance());
    }

    /** Runs a pod sandbox with the runtime handler ({@code ""}: containerd's default); returns its id. */
    public String runPodSandbox(PodSandboxConfig config, String runtimeHandler) {
        return runtime("RunPodSandbox", RunPodSandboxRequest.newBuilder().setConfig(config).setRuntimeHandler(runtimeHandler).build(),
                dev.kava.it.containerd.cri.RunPodSandboxResponse.getDefaultInstance()).getPodSandboxId();
    }

    public PodSandboxStatus podSandboxStatus(String podId) {
        PodSandboxStatusResponse r = runtime("PodSandboxStatus", PodSandboxStatusRequest.newBuilder().setPodSandboxId(podId).build(),
                PodSandboxStatusResponse.getDefaultInstance());
        return r.getStatus();
    }

    public void stopPodSandbox(String podId) {
        runtime("StopPodSandbox", StopPodSandboxRequest.newBuilder().setPodSandboxId(podId).build(),
                dev.kava.it.containerd.cri.StopPodSandboxResponse.getDefaultInstance());
    }

    public void removePodSandbox(String podId) {
        runtime("RemovePodSandbox", RemovePodSandboxRequest.newBuilder().setPodSandboxId(podId).build(),
                dev.kava.it.containerd.cri.RemovePodSandboxResponse.getDefaultInstance());
    }

    public List<PodSandbox> listPodSandbox() {
        return runtime("ListPodSandbox", ListPodSandboxRequest.getDefaultInstance(), ListPodSandboxResponse.getDefaultInstance()).getItemsList();
    }

    /** Creates a container in a pod ({@code podConfig}: the config the pod was run with); returns its id. */
    public String createContainer(String podId, ContainerConfig config, PodSandboxConfig podConfig) {
        return runtime("CreateContainer", CreateContainerRequest.newBuilder().setPodSandboxId(podId).setConfig(config)
                .setSandboxConfig(podConfig).build(), dev.kava.it.containerd.cri.CreateContainerResponse.getDefaultInstance()).getContainerId();
    }

    public void startContainer(String id) {
        runtime("StartContainer", StartContainerRequest.newBuilder().setContainerId(id).build(),
                dev.kava.it.containerd.cri.StartContainerResponse.getDefaultInstance());
    }

    public ContainerStatus containerStatus(String id) {
        return runtime("ContainerStatus", ContainerStatusRequest.newBuilder().setContainerId(id).build(),
                dev.kava.it.containerd.cri.ContainerStatusResponse.getDefaultInstance()).getStatus();
    }

    public List<dev.kava.it.containerd.cri.Container> listContainers() {
        return runtime("ListContainers", ListContainersRequest.getDefaultInstance(), ListContainersResponse.getDefaultInstance()).getContainersList();
    }

    /** SIGTERM (the image's stop signal), SIGKILL after {@code timeoutSeconds}. */
    public void stopContainer(String id, long timeoutSeconds) {
        runtime("StopContainer", StopContainerRequest.newBuilder().setContainerId(id).setTimeout(timeoutSeconds).build(),
                dev.kava.it.containerd.cri.StopContainerResponse.getDefaultInstance(), Duration.ofSeconds(timeoutSeconds).plus(deadline));
    }

    public void removeContainer(String id) {
        runtime("RemoveContainer", RemoveContainerRequest.newBuilder().setContainerId(id).build(),
                dev.kava.it.containerd.cri.RemoveContainerResponse.getDefaultInstance());
    }

    /** Runs a command in a container and returns its exit code and output. */
    public ExecSyncResponse execSync(String id, List<String> cmd, long timeoutSeconds) {
        return runtime("ExecSync", ExecSyncRequest.newBuilder().setContainerId(id).addAllCmd(cmd).setTimeout(timeoutSeconds).build(),
                ExecSyncResponse.getDefaultInstance(), Duration.ofSeconds(timeoutSeconds).plus(deadline));
    }

    public ContainerStats containerStats(String id) {
        return runtime("ContainerStats", ContainerStatsRequest.newBuilder().setContainerId(id).build(),
                dev.kava.it.containerd.cri.ContainerStatsResponse.getDefaultInstance()).getStats();
    }

    /** The image, or null when CRI does not know it. */
    public Image imageStatus(String reference) {
        var r = image("ImageStatus", ImageStatusRequest.newBuilder().setImage(ImageSpec.newBuilder().setImage(reference)).build(),
                dev.kava.it.containerd.cri.ImageStatusResponse.getDefaultInstance());
        return r.hasImage() ? r.getImage() : null;
    }

    public List<Image> listImages() {
        return image("ListImages", ListImagesRequest.getDefaultInstance(), ListImagesResponse.getDefaultInstance()).getImagesList();
    }

    /**
     * Any unary call: {@code service} is {@link #RUNTIME_SERVICE} or {@link #IMAGE_SERVICE}, {@code method}
     * the rpc name, {@code responseType} the response's default instance.
     */
    public <Q extends MessageLite, R extends MessageLite> R call(String service, String method, Q request, R responseType, Duration deadline) {
        @SuppressWarnings("unchecked")
        MethodDescriptor<Q, R> md = (MethodDescriptor<Q, R>) methods.computeIfAbsent(service + "/" + method,
                name -> MethodDescriptor.<Q, R>newBuilder()
                        .setType(MethodDescriptor.MethodType.UNARY)
                        .setFullMethodName(MethodDescriptor.generateFullMethodName(service, method))
                        .setRequestMarshaller(ProtoLiteUtils.marshaller(defaultOf(request)))
                        .setResponseMarshaller(ProtoLiteUtils.marshaller(responseType))
                        .build());
        try {
            return ClientCalls.blockingUnaryCall(channel, md, CallOptions.DEFAULT.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS), request);
        } catch (StatusRuntimeException e) {
            throw new CriException(method, e);
        }
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    @Override
    public String toString() {
        return "CriClient[" + socket + "]";
    }

    private <Q extends MessageLite, R extends MessageLite> R runtime(String method, Q request, R responseType) {
        return call(RUNTIME_SERVICE, method, request, responseType, deadline);
    }

    private <Q extends MessageLite, R extends MessageLite> R runtime(String method, Q request, R responseType, Duration d) {
        return call(RUNTIME_SERVICE, method, request, responseType, d);
    }

    private <Q extends MessageLite, R extends MessageLite> R image(String method, Q request, R responseType) {
        return call(IMAGE_SERVICE, method, request, responseType, deadline);
    }

    private static java.util.logging.Logger quiet(String name) {
        java.util.logging.Logger l = java.util.logging.Logger.getLogger(name);
        l.setLevel(java.util.logging.Level.SEVERE);
        return l;
    }

    @SuppressWarnings("unchecked")
    private static <Q extends MessageLite> Q defaultOf(Q message) {
        return (Q) message.getDefaultInstanceForType();
    }
}
