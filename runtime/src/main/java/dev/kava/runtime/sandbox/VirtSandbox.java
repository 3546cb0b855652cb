package dev.kava.runtime.sandbox;

import com.google.protobuf.ByteString;
import dev.kava.api.agent.CreateContainerRequest;
import dev.kava.api.agent.CreateSandboxRequest;
import dev.kava.api.agent.GuestDetailsResponse;
import dev.kava.api.agent.Storage;
import dev.kava.hypervisor.AgentEndpoint;
import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.VmConfig;
import dev.kava.runtime.KavaException;
import dev.kava.runtime.agent.AgentClient;
import dev.kava.runtime.config.KavaConfig;
import dev.kava.runtime.container.Container;
import dev.kava.runtime.container.ContainerConfig;
import dev.kava.runtime.container.Volume;
import dev.kava.runtime.oci.OciSpec;
import dev.kava.runtime.resource.BindVolume;
import dev.kava.runtime.resource.MountLedger;
import dev.kava.runtime.resource.OverlayRootfs;
import dev.kava.ttrpc.ByteStreams;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * A sandbox that is a VM: a hypervisor process, a directory shared into the guest (virtio-fs served
 * by kava itself, or QEMU's 9p: {@code hypervisor.shared_fs}), and the guest agent on the other end
 * of a ttrpc connection. Every host resource is recorded in {@code <stateDir>/state.json} before it
 * is created, and {@link #close()} undoes all of them.
 */
public final class VirtSandbox implements Sandbox, MountLedger {
    private static final Logger LOG = Logger.getLogger(VirtSandbox.class.getName());
    private static final Pattern ID = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}");
    /** The mount tag of the shared directory (9p or virtio-fs), and where the agent mounts it. */
    public static final String SHARE_TAG = "kavashare";
    public static final String GUEST_SHARE = "/run/kava/shared";

    private final String id;
    private final KavaConfig config;
    private final Path stateDir;
    private final Path shareDir;
    private final Timeline timeline = new Timeline();
    private final Map<String, VirtContainer> containers = new LinkedHashMap<>();
    private SandboxState state;
    private Hypervisor hypervisor;
    private AgentClient agent;
    private boolean started;
    private boolean closed;

    public VirtSandbox(String id, KavaConfig config) {
        if (!ID.matcher(id).matches()) {
            throw new KavaException("invalid sandbox id \"" + id + "\": use letters, digits, '_', '.', '-' (at most 64)");
        }
        this.id = id;
        this.config = config;
        this.stateDir = config.runtime().stateDir().resolve(id);
        this.shareDir = stateDir.resolve("shared");
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public Timeline timeline() {
        return timeline;
    }

    public Path stateDir() {
        return stateDir;
    }

    public AgentClient agent() {
        return agent;
    }

    /** The host directory shared into the guest at {@link #GUEST_SHARE}. */
    public Path shareDir() {
        return shareDir;
    }

    /** The pid of the hypervisor process, or 0 (not started, or an in-process VMM). */
    public long vmPid() {
        return hypervisor != null ? hypervisor.pid().orElse(0) : 0;
    }

    /** Where a debug client reaches the agent, e.g. {@code unix:///run/kava/<id>/agent.sock}; empty before start. */
    public String agentUrl() {
        if (hypervisor == null) return "";
        return switch (hypervisor.agentEndpoint()) {
            case AgentEndpoint.UnixSerial(Path socket) -> "unix://" + socket;
            case AgentEndpoint.HybridVsock(Path socket, int port) -> "hvsock://" + socket + ":" + port;
        };
    }

    @Override
    public synchronized void start() {
        if (started) throw new IllegalStateException("sandbox " + id + " already started");
        started = true;
        timeline.mark("sandbox-start");
        var hc = config.hypervisor();
        for (Path p : List.of(hc.kernel(), hc.image())) {
            if (!Files.isRegularFile(p)) {
                throw new KavaException("guest " + (p.equals(hc.kernel()) ? "kernel" : "image") + " not found at " + p
                        + ": run ./kava once (it builds both) or set hypervisor." + (p.equals(hc.kernel()) ? "kernel" : "image")
                        + " in " + (config.source() != null ? config.source() : KavaConfig.DEFAULT_FILE));
            }
        }
        try {
            Files.createDirectories(config.runtime().stateDir());
            Files.createDirectory(stateDir);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw new KavaException("sandbox " + id + " already exists (" + stateDir + "); `kava cleanup` removes dead ones");
        } catch (IOException e) {
            throw new KavaException("cannot create " + stateDir + ": " + e.getMessage(), e);
        }
        Instant deadline = Instant.now().plus(hc.bootTimeout());
        try {
            var provider = Hypervisors.select(hc.name());
            long self = ProcessHandle.current().pid();
            state = new SandboxState(id, self, SandboxState.startTimeOf(self), provider.name(), 0, List.of(),
                    Instant.now().toString());
            save();
            Files.createDirectory(shareDir);
            hypervisor = provider.create(id, stateDir);
            List<String> params = new ArrayList<>(hc.kernelParams());
            hypervisor.prepare(new VmConfig(hc.vcpus(), hc.memoryMiB(), hc.kernel(), hc.image(), params,
                    stateDir.resolve("console.log"), hc.debugConsole()));
            hypervisor.addDevice(shareDevice(hc));
            timeline.mark("vm-prepare");
            hypervisor.start(hc.bootTimeout());
            hypervisor.pid().ifPresent(pid -> {
                state = state.withVmPid(pid);
                save();
            });
            timeline.mark("vm-started");
            agent = connectAgent(deadline);
            timeline.mark("agent-ready");
            agent.setGuestDateTime(Instant.now().getEpochSecond(), Instant.now().getNano() / 1000);
            agent.createSandbox(CreateSandboxRequest.newBuilder()
                    .setSandboxId(id)
                    .setHostname(id.length() > 12 ? id.substring(0, 12) : id)
                    .addStorages(shareStorage(hc.sharedFs()))
                    .build());
            timeline.mark("sandbox-ready");
        } catch (RuntimeException | IOException e) {
            String detail = e.getMessage();
            String console = consoleTail(20);
            close();
            throw new KavaException("sandbox " + id + " failed to start: " + detail
                    + (console.isEmpty() ? "" : "\n--- guest console (last lines) ---\n" + console), e);
        }
    }

    /** The shared directory as the hypervisor serves it. */
    private Device.SharedFs shareDevice(KavaConfig.Hypervisor hc) {
        if (hc.sharedFs() == KavaConfig.SharedFs.NINE_P) {
            return new Device.SharedFs(SHARE_TAG, shareDir, Device.SharedFs.Kind.NINE_P);
        }
        if (!hypervisor.capabilities().virtioFs()) {
            throw new KavaException("the hypervisor cannot serve virtio-fs here: set hypervisor.shared_fs = \"9p\"");
        }
        Device.SharedFs.Cache cache = switch (hc.virtioFsCache()) {
            case NONE -> Device.SharedFs.Cache.NONE;
            case AUTO -> Device.SharedFs.Cache.AUTO;
            case ALWAYS -> Device.SharedFs.Cache.ALWAYS;
        };
        return new Device.SharedFs(SHARE_TAG, shareDir, Device.SharedFs.Kind.VIRTIO_FS, cache);
    }

    /** How the agent mounts the shared directory at {@link #GUEST_SHARE}. */
    static Storage shareStorage(KavaConfig.SharedFs fs) {
        return switch (fs) {
            case VIRTIO_FS -> Storage.newBuilder().setDriver("virtio-fs").setSource(SHARE_TAG).setFstype("virtiofs")
                    .setMountPoint(GUEST_SHARE).build();
            case NINE_P -> Storage.newBuilder().setDriver("9p").setSource(SHARE_TAG).setFstype("9p")
                    .setMountPoint(GUEST_SHARE).build();
        };
    }

    private AgentClient connectAgent(Instant deadline) {
        AgentEndpoint ep = hypervisor.agentEndpoint();
        if (!(ep instanceof AgentEndpoint.UnixSerial(Path socket))) {
            throw new KavaException("agent endpoint " + ep + " is not supported by this runtime yet");
        }
        AgentClient client = null;
        IOException last = null;
        Instant dialBy = Instant.now().plus(config.agent().dialTimeout());
        Instant connectBy = dialBy.isBefore(deadline) ? dialBy : deadline;
        while (Instant.now().isBefore(connectBy)) {
            if (!hypervisor.isRunning()) {
                throw new KavaException("the VM exited while booting");
            }
            try {
                client = new AgentClient(ByteStreams.connectUnix(socket), config.agent().requestTimeout());
                break;
            } catch (IOException e) {
                last = e;
                sleep(10);
            }
        }
        if (client == null) {
            throw new KavaException("cannot connect to the agent socket " + socket + (last != null ? ": " + last.getMessage() : ""));
        }
        try {
            // the serial port holds the request until the agent opens it; the answer means it serves
            var waitFor = Duration.between(Instant.now(), deadline);
            var exited = hypervisor.exited();
            AgentClient c = client;
            var ready = java.util.concurrent.CompletableFuture.runAsync(() -> c.check(waitFor), Thread.ofVirtual()::start);
            java.util.concurrent.CompletableFuture.anyOf(ready, exited).get(waitFor.toMillis() + 1000, TimeUnit.MILLISECONDS);
            if (!ready.isDone()) {
                throw new KavaException("the VM exited (status " + exited.getNow(-1) + ") before the agent answered");
            }
            ready.join();
            return client;
        } catch (java.util.concurrent.TimeoutException e) {
            client.close();
            throw new KavaException("the agent did not answer within " + config.hypervisor().bootTimeout().toSeconds() + " s");
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.CompletionException e) {
            client.close();
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new KavaException("the agent did not answer: " + c.getMessage(), c);
        } catch (InterruptedException e) {
            client.close();
            Thread.currentThread().interrupt();
            throw new KavaException("interrupted while waiting for the agent");
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
    }

    @Override
    public synchronized Container createContainer(ContainerConfig cc) {
        if (agent == null || closed) throw new IllegalStateException("sandbox " + id + " is not running");
        if (!ID.matcher(cc.id()).matches()) throw new KavaException("invalid container id \"" + cc.id() + "\"");
        if (containers.containsKey(cc.id())) throw new KavaException("container " + cc.id() + " already exists in sandbox " + id);
        for (Volume v : cc.volumes()) {
            if (!Files.exists(v.hostPath())) {
                throw new KavaException("volume " + v.hostPath() + ":" + v.containerPath() + ": " + v.hostPath() + " does not exist");
            }
        }
        OverlayRootfs rootfs = OverlayRootfs.mount(cc.id(), cc.image().rootfs(), shareDir.resolve(cc.id()).resolve("rootfs"),
                stateDir.resolve("overlay").resolve(cc.id()), this);
        List<BindVolume> volumes = new ArrayList<>();
        try {
            List<OciSpec.BindMount> binds = new ArrayList<>();
            for (Volume v : cc.volumes()) {
                // shared at <share>/<cid>/volumes/<n>; the container binds it from there
                String rel = cc.id() + "/volumes/" + volumes.size();
                volumes.add(BindVolume.mount(v.hostPath(), shareDir.resolve(rel), v.readOnly(), this));
                binds.add(new OciSpec.BindMount(v.containerPath(), GUEST_SHARE + "/" + rel, v.readOnly()));
            }
            var spec = OciSpec.build(cc.id(), cc.id() + "/rootfs", id.length() > 12 ? id.substring(0, 12) : id, cc.process(), binds);
            agent.createContainer(CreateContainerRequest.newBuilder()
                    .setContainerId(cc.id())
                    .setExecId(cc.id())
                    .setOciSpec(ByteString.copyFrom(OciSpec.toJson(spec)))
                    .build());
            timeline.mark("container-created");
            VirtContainer c = new VirtContainer(cc.id(), agent, rootfs, volumes, timeline, () -> forget(cc.id()));
            containers.put(cc.id(), c);
            return c;
        } catch (RuntimeException e) {
            for (BindVolume v : volumes.reversed()) {
                try {
                    v.close();
                } catch (RuntimeException again) {
                    LOG.warning("undoing " + v.describe() + ": " + again.getMessage());
                }
            }
            rootfs.close();
            throw e;
        }
    }

    private synchronized void forget(String containerId) {
        containers.remove(containerId);
    }

    @Override
    public SandboxFigures figures() {
        long vmPid = hypervisor != null ? hypervisor.pid().orElse(0) : 0;
        long guestUsed = 0, guestTotal = 0;
        if (agent != null && agent.isOpen()) {
            try {
                GuestDetailsResponse d = agent.guestDetails();
                guestTotal = d.getMemTotalBytes() / 1024;
                guestUsed = (d.getMemTotalBytes() - d.getMemFreeBytes()) / 1024;
            } catch (RuntimeException e) {
                LOG.fine("guest details: " + e.getMessage());
            }
        }
        return new SandboxFigures(vmPid, vmPid > 0 ? ProcStatus.rssKiB(vmPid) : 0, ProcStatus.rssKiB(ProcessHandle.current().pid()),
                guestUsed, guestTotal, ProcStatus.threads(ProcessHandle.current().pid()));
    }

    /** Stops the containers, the agent and the VM, and undoes every host resource. Never throws. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (VirtContainer c : List.copyOf(containers.values())) {
            try {
                c.remove();
            } catch (RuntimeException e) {
                LOG.fine("removing " + c.id() + ": " + e.getMessage());
            }
        }
        if (agent != null) {
            try {
                if (agent.isOpen() && hypervisor != null && hypervisor.isRunning()) {
                    agent.destroySandbox();   // the agent syncs and powers the VM off
                    hypervisor.exited().get(2, TimeUnit.SECONDS);
                }
            } catch (Exception e) {
                LOG.fine("destroy sandbox: " + e.getMessage());
            }
            agent.close();
        }
        if (hypervisor != null) {
            try {
                hypervisor.stop(Duration.ofSeconds(2));
            } catch (RuntimeException e) {
                LOG.warning("stopping the VM of " + id + ": " + e.getMessage());
            }
            try {
                hypervisor.close();
            } catch (RuntimeException e) {
                LOG.warning("cleaning up the VM of " + id + ": " + e.getMessage());
            }
        }
        if (state != null) {
            SandboxCleaner.unmountAll(state.mounts());
        }
        SandboxCleaner.unmountUnder(stateDir);
        SandboxCleaner.deleteTree(stateDir);
    }

    @Override
    public synchronized void willMount(String mountPoint) {
        state = state.withMount(mountPoint);
        save();
    }

    @Override
    public synchronized void unmounted(String mountPoint) {
        if (state != null && state.mounts().contains(mountPoint)) {
            state = state.withoutMount(mountPoint);
            if (Files.isDirectory(stateDir)) save();
        }
    }

    private void save() {
        try {
            state.save(stateDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the state of sandbox " + id, e);
        }
    }

    private String consoleTail(int lines) {
        Path log = stateDir.resolve("console.log");
        try {
            List<String> all = Files.readAllLines(log, java.nio.charset.StandardCharsets.ISO_8859_1);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "";
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KavaException("interrupted");
        }
    }
}
