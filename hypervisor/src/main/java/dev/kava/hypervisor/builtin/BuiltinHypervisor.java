package dev.kava.hypervisor.builtin;

import dev.kava.hypervisor.AgentEndpoint;
import dev.kava.hypervisor.Capabilities;
import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.HypervisorException;
import dev.kava.hypervisor.VmConfig;
import dev.kava.vmm.DeviceSpec;
import dev.kava.vmm.VmExit;
import dev.kava.vmm.VmSpec;
import dev.kava.vmm.Vmm;
import dev.kava.vmm.VmmException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One sandbox's VM in this JVM: a {@link Vmm} with the guest kernel, the root image as
 * {@code /dev/vda} (read-only), further block devices as {@code /dev/vdb...}, virtio-rng, and
 * virtio-vsock whose hybrid vsock socket ({@code <state>/vsock.sock}) is how the runtime reaches
 * the guest agent on port {@value #AGENT_PORT}.
 *
 * <p>The guest ends the VM by rebooting ({@code reboot=k} through the i8042, {@code panic=-1}); no
 * process is left behind by construction, and {@link #close} releases every thread, descriptor and
 * mapping. Shared file systems are virtio-fs, served inline by this process's FUSE server
 * ({@code InlineVirtioFs} on virtio-mmio); there is no virtio-9p.
 */
public final class BuiltinHypervisor implements Hypervisor {
    /** The guest agent's vsock port. */
    public static final int AGENT_PORT = 1024;
    /** The guest's vsock context id (every sandbox has its own VM, so one fixed id does). */
    public static final long GUEST_CID = 3;
    static final String VSOCK_SOCKET = "vsock.sock";
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(2);
    /** The base kernel command line; the VMM appends {@code virtio_mmio.device=} per device. */
    static final List<String> BASE_CMDLINE = List.of("console=ttyS0", "reboot=k", "panic=-1", "root=/dev/vda", "ro",
            "rootfstype=ext4", "8250.nr_uarts=1", "i8042.noaux", "i8042.nomux", "i8042.nopnp", "i8042.dumbkbd",
            "no_timer_check");

    private enum State { NEW, PREPARED, RUNNING, STOPPED, CLOSED }

    private final String sandboxId;
    private final Path stateDir;
    private final List<Device.BlockDevice> blocks = new ArrayList<>();
    private final List<Device.SharedFs> shares = new ArrayList<>();
    private final CompletableFuture<Integer> exited = new CompletableFuture<>();
    private State state = State.NEW;
    private VmConfig config;
    private Vmm vmm;

    BuiltinHypervisor(String sandboxId, Path stateDir) {
        this.sandboxId = sandboxId;
        this.stateDir = stateDir.toAbsolutePath().normalize();
    }

    @Override
    public synchronized void prepare(VmConfig config) {
        Objects.requireNonNull(config, "config");
        requireState(State.NEW, "prepare");
        if (config.vcpus() > dev.kava.vmm.boot.MpTable.MAX_CPUS) {
            throw new HypervisorException("the builtin hypervisor runs at most " + dev.kava.vmm.boot.MpTable.MAX_CPUS + " vCPUs");
        }
        requireFile(config.kernel(), "kernel");
        requireFile(config.rootImage(), "root image");
        Path consoleDir = config.consoleLog().toAbsolutePath().getParent();
        if (consoleDir == null || !Files.isDirectory(consoleDir)) {
            throw new HypervisorException("directory of the console log " + config.consoleLog() + " does not exist");
        }
        Path socket = stateDir.resolve(VSOCK_SOCKET);
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length > dev.kava.virtio.vsock.VsockConfig.MAX_SOCKET_PATH) {
            throw new HypervisorException("state directory path is too long for the vsock socket: " + socket);
        }
        try {
            Files.createDirectories(stateDir);
        } catch (IOException e) {
            throw new HypervisorException("cannot create state directory " + stateDir + ": " + e, e);
        }
        this.config = config;
        state = State.PREPARED;
    }

    @Override
    public synchronized void addDevice(Device device) {
        Objects.requireNonNull(device, "device");
        requireState(State.PREPARED, "addDevice");
        switch (device) {
            case Device.SharedFs s -> {
                if (s.kind() != Device.SharedFs.Kind.VIRTIO_FS) {
                    throw new HypervisorException("the builtin hypervisor has no virtio-9p ('" + s.tag()
                            + "'): use virtio-fs (hypervisor.shared_fs = \"virtio-fs\")");
                }
                if (!Files.isDirectory(s.hostPath())) {
                    throw new HypervisorException("shared directory " + s.hostPath() + " does not exist");
                }
                if (shares.stream().anyMatch(o -> o.tag().equals(s.tag()))) {
                    throw new HypervisorException("a shared file system tagged '" + s.tag() + "' was added already");
                }
                checkRoom();
                shares.add(s);
            }
            case Device.BlockDevice b -> {
                requireFile(b.path(), "block device");
                checkRoom();
                blocks.add(b);
            }
        }
    }

    /** Whether one more device fits beside the root disk, rng and vsock, on virtio-mmio. */
    private void checkRoom() {
        if (blocks.size() + shares.size() + 4 > dev.kava.vmm.memory.MemoryMap.MAX_VIRTIO_DEVICES) {
            throw new HypervisorException("too many devices for the builtin hypervisor (at most "
                    + (dev.kava.vmm.memory.MemoryMap.MAX_VIRTIO_DEVICES - 3) + " block devices and shares)");
        }
    }

    /** The VM this plugin builds from the prepared configuration and devices (pure: nothing is opened). */
    synchronized VmSpec vmSpec() {
        if (config == null) {
            throw new HypervisorException("sandbox " + sandboxId + ": vmSpec before prepare");
        }
        List<DeviceSpec> devices = new ArrayList<>();
        devices.add(new DeviceSpec.Block(config.rootImage(), true, "kava-root"));
        for (int i = 0; i < blocks.size(); i++) {
            Device.BlockDevice b = blocks.get(i);
            devices.add(new DeviceSpec.Block(b.path(), b.readOnly(), "kava-blk" + (i + 1)));
        }
        for (Device.SharedFs f : shares) {
            devices.add(new DeviceSpec.Fs(f.tag(), f.hostPath().toAbsolutePath(), f.cache().serverMode()));
        }
        devices.add(new DeviceSpec.Rng());
        devices.add(new DeviceSpec.Vsock(GUEST_CID, stateDir.resolve(VSOCK_SOCKET)));
        List<String> cmdline = new ArrayList<>(BASE_CMDLINE);
        cmdline.add(config.debugConsole() ? "loglevel=7" : "quiet");
        cmdline.addAll(config.kernelParams());
        long memory = ((long) config.memoryMiB() + 1) / 2 * 2 << 20; // whole 2 MiB pages
        return new VmSpec(config.vcpus(), memory, new VmSpec.LinuxKernel(config.kernel(), null, String.join(" ", cmdline)),
                devices, VmSpec.SerialConsole.toFile(config.consoleLog()), false);
    }

    @Override
    public synchronized void start(Duration bootTimeout) {
        Objects.requireNonNull(bootTimeout, "bootTimeout");
        if (bootTimeout.isNegative() || bootTimeout.isZero()) {
            throw new IllegalArgumentException("bootTimeout must be positive");
        }
        requireState(State.PREPARED, "start");
        try {
            Files.deleteIfExists(stateDir.resolve(VSOCK_SOCKET));
            vmm = Vmm.create(vmSpec());
            vmm.start();
        } catch (VmmException | IOException | IllegalArgumentException e) {
            state = State.STOPPED;
            if (vmm != null) {
                vmm.close();
            }
            throw new HypervisorException("sandbox " + sandboxId + ": cannot start the VM: " + e.getMessage()
                    + consoleTail(), e);
        }
        state = State.RUNNING;
        vmm.exit().thenAccept(e -> exited.complete(exitCode(e)));
    }

    /** A VM's end as a process-like exit code: 0 when the guest rebooted or powered off, 1 on failure. */
    static int exitCode(VmExit e) {
        return switch (e) {
            case VmExit.GuestReset r -> 0;
            case VmExit.GuestShutdown s -> 0;
            case VmExit.Stopped s -> 0;
            case VmExit.Failed f -> 1;
        };
    }

    @Override
    public void pause() {
        running("pause").pause();
    }

    @Override
    public void resume() {
        running("resume").resume();
    }

    private synchronized Vmm running(String op) {
        if (state != State.RUNNING || vmm == null || vmm.exit().isDone()) {
            throw new HypervisorException("sandbox " + sandboxId + ": " + op + " needs a running VM");
        }
        return vmm;
    }

    @Override
    public synchronized void stop(Duration grace) {
        Objects.requireNonNull(grace, "grace");
        if (state != State.RUNNING) {
            return;
        }
        // no ACPI to ask the guest: the vCPUs are stopped at once (the agent synced before)
        vmm.stop();
        try {
            vmm.exit().get(Math.max(1, grace.toMillis()), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new HypervisorException("sandbox " + sandboxId + ": the VM's vCPUs did not stop within " + grace.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            // the exit future never fails
        }
        state = State.STOPPED;
    }

    @Override
    public synchronized boolean isRunning() {
        return state == State.RUNNING && vmm != null && !vmm.exit().isDone();
    }

    @Override
    public CompletableFuture<Integer> exited() {
        return exited.copy();
    }

    @Override
    public AgentEndpoint agentEndpoint() {
        return new AgentEndpoint.HybridVsock(stateDir.resolve(VSOCK_SOCKET), AGENT_PORT);
    }

    /** The VM runs in this process: there is no VM process id. */
    @Override
    public OptionalLong pid() {
        return OptionalLong.empty();
    }

    /** The VM's own threads in this process (vCPUs and the device event loop). */
    @Override
    public synchronized List<Long> threadIds() {
        return vmm == null || !isRunning() ? List.of() : vmm.threadIds();
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(true, true, false, true, true);
    }

    @Override
    public synchronized void close() {
        if (state == State.CLOSED) {
            return;
        }
        try {
            if (state == State.RUNNING) {
                stop(CLOSE_GRACE);
            }
        } finally {
            if (vmm != null) {
                vmm.close();
            }
            try {
                Files.deleteIfExists(stateDir.resolve(VSOCK_SOCKET));
            } catch (IOException e) {
                // left for the runtime's cleanup of the state directory
            }
            state = State.CLOSED;
            exited.complete(0);
        }
    }

    private String consoleTail() {
        try {
            if (config == null || !Files.exists(config.consoleLog())) {
                return "";
            }
            String s = Files.readString(config.consoleLog(), StandardCharsets.ISO_8859_1);
            return s.isBlank() ? "" : "\n--- console (tail) ---\n" + s.substring(Math.max(0, s.length() - 2048)).strip();
        } catch (IOException e) {
            return "";
        }
    }

    private void requireState(State wanted, String op) {
        if (state != wanted) {
            throw new HypervisorException("sandbox " + sandboxId + ": " + op + " in state " + state + " (needs " + wanted + ")");
        }
    }

    private static void requireFile(Path p, String what) {
        if (!Files.isRegularFile(p) && !Files.exists(p)) {
            throw new HypervisorException(what + " " + p + " does not exist");
        }
        if (!Files.isReadable(p)) {
            throw new HypervisorException(what + " " + p + " is not readable");
        }
    }
}
