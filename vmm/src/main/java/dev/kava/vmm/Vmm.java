package dev.kava.vmm;

import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.OpenFlags;
import dev.kava.linux.SystemCalls;
import dev.kava.linux.Tap;
import dev.kava.virtio.blk.BlockConfig;
import dev.kava.virtio.blk.VirtioBlock;
import dev.kava.virtio.console.VirtioConsole;
import dev.kava.virtio.device.DeviceEventLoop;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.fs.FuseServer;
import dev.kava.virtio.fs.InlineVirtioFs;
import dev.kava.virtio.fs.ShareLimits;
import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.net.TapBackend;
import dev.kava.virtio.net.VirtioNet;
import dev.kava.virtio.rng.VirtioRng;
import dev.kava.virtio.vsock.VirtioVsock;
import dev.kava.virtio.vsock.VsockConfig;
import dev.kava.vmm.boot.BootState;
import dev.kava.vmm.boot.KernelImage;
import dev.kava.vmm.boot.LinuxBoot;
import dev.kava.vmm.bus.InterruptLine;
import dev.kava.vmm.bus.IoBus;
import dev.kava.vmm.cpu.BootCpu;
import dev.kava.vmm.cpu.CpuidPolicy;
import dev.kava.vmm.cpu.X86;
import dev.kava.vmm.kvm.CpuidEntry;
import dev.kava.vmm.kvm.Kvm;
import dev.kava.vmm.kvm.KvmVcpu;
import dev.kava.vmm.kvm.KvmVm;
import dev.kava.vmm.legacy.I8042;
import dev.kava.vmm.legacy.Serial16550;
import dev.kava.vmm.legacy.SerialConsoleBackend;
import dev.kava.vmm.memory.MemoryMap;
import dev.kava.vmm.mmio.MmioSlot;
import dev.kava.vmm.mmio.MmioTransport;
import dev.kava.vmm.vcpu.ExitHandler;
import dev.kava.vmm.vcpu.Vcpu;
import dev.kava.vmm.vcpu.VcpuEnd;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * One virtual machine run in this process by KVM: the built-in VMM's entry point.
 *
 * <h2>Lifecycle</h2>
 * {@link #create} builds everything from a {@link VmSpec} (KVM VM with in-kernel irqchip and PIT,
 * memfd guest RAM, the kernel and boot tables in it, vCPUs with CPUID/MSRs/registers, the serial
 * console, the i8042, one virtio-mmio transport per device with its ioeventfds and irqfd) and runs
 * nothing; {@link #start} starts the device event loop and the vCPU threads; {@link #pause} /
 * {@link #resume} hold and release the vCPUs; {@link #stop} ends the VM; {@link #exit()} completes
 * when the last vCPU thread ended, with why; {@link #close} stops and releases everything (always
 * call it).
 *
 * <h2>Threads</h2>
 * One platform thread per vCPU (KVM_RUN), one platform thread for the device event loop
 * (epoll_wait: queue notifications, taps, sockets, console input). That is the whole cost of a
 * VM: {@code vcpus + 1} threads.
 *
 * <h2>Trust</h2>
 * The guest controls its vCPUs, its memory and every value it writes to a port, an MMIO register
 * or a virtqueue. Port and MMIO exits reach devices through the buses with the guest's values as
 * untrusted input; virtqueues are validated by the device models; guest memory is only reached
 * through {@link GuestMemory}. The guest ends the VM by resetting or shutting down; it cannot make
 * this class throw.
 */
public final class Vmm implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Vmm.class.getName());
    /** The first IRQ of virtio-mmio devices (4 is COM1, 1 the keyboard). */
    public static final int FIRST_VIRTIO_IRQ = 5;
    /** Stack of application processors started in program mode: 4 KiB below the boot processor's per vCPU. */
    static final long AP_STACK_STRIDE = 0x1000;

    private final VmSpec spec;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final IoBus ports = new IoBus();
    private final IoBus mmio = new IoBus();
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final List<MmioTransport> transports = new ArrayList<>();
    private final List<MmioSlot> slots = new ArrayList<>();
    private final CompletableFuture<VmExit> exit = new CompletableFuture<>();
    private final AtomicReference<VmExit> firstEnd = new AtomicReference<>();
    private final AtomicInteger running = new AtomicInteger();
    private final LongAdder notifyExits = new LongAdder();
    private final long createdNanos = System.nanoTime();
    private Kvm kvm;
    private KvmVm vm;
    private GuestMemory memory;
    private DeviceEventLoop loop;
    private Serial16550 serial;
    private String commandLine = "";
    private volatile boolean started;
    private volatile int loopTid;
    private volatile boolean closed;

    private Vmm(VmSpec spec) {
        this.spec = spec;
    }

    /** Builds the VM described by {@code spec}; nothing runs until {@link #start}. */
    public static Vmm create(VmSpec spec) {
        Vmm v = new Vmm(spec);
        try {
            v.build();
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e instanceof VmmException ve ? ve : new VmmException("cannot build the VM: " + e.getMessage(), e);
        }
    }

    private void build() {
        kvm = Kvm.open();
        vm = kvm.createVm();
        vm.createPlatform();
        memory = MemoryMap.allocate("kava-guest-ram", spec.memoryBytes());
        int slot = 0;
        for (GuestMemory.Region r : memory.regions()) {
            vm.setMemoryRegion(slot++, r.guestAddress(), r.size(), r.userAddress());
        }
        loop = DeviceEventLoop.create();

        // the console, the keyboard controller
        SerialConsoleBackend console;
        try {
            console = new SerialConsoleBackend(spec.serial().log(), spec.serial().socket());
        } catch (IOException e) {
            throw new VmmException("serial console: " + e.getMessage(), e);
        }
        resources.add(console);
        serial = new Serial16550(console, irqLine(Serial16550.COM1_IRQ));
        console.attach(serial, loop);
        ports.add(Serial16550.COM1_PORT, Serial16550.PORTS, serial);
        ports.add(I8042.DATA_PORT, I8042.RANGE, new I8042(() -> end(new VcpuEnd.Reset())));

        // virtio devices on virtio-mmio
        List<String> deviceParams = new ArrayList<>();
        for (int i = 0; i < spec.devices().size(); i++) {
            MmioSlot s = new MmioSlot(MemoryMap.virtioMmioAddress(i), MemoryMap.VIRTIO_MMIO_SIZE, FIRST_VIRTIO_IRQ + i);
            VirtioDevice device = device(spec.devices().get(i));
            MmioTransport t;
            try {
                t = new MmioTransport(device, memory, loop, irqLine(s.irq()));
            } catch (RuntimeException e) {
                device.close();
                throw e;
            }
            transports.add(t);
            slots.add(s);
            mmio.add(s.base(), s.size(), t);
            for (int q = 0; q < t.queueCount(); q++) {
                vm.registerIoeventfd(t.queueNotifyFd(q), s.base() + MmioTransport.QUEUE_NOTIFY, 4, q, false);
            }
            deviceParams.add(s.kernelParameter());
        }
        ports.seal();
        mmio.seal();

        // the boot image and tables
        BootState boot = switch (spec.boot()) {
            case VmSpec.LinuxKernel k -> {
                byte[] kernelBytes = readFile(k.kernel(), "kernel");
                byte[] initrd = k.initrd() == null ? null : readFile(k.initrd(), "initrd");
                commandLine = (k.commandLine() + " " + String.join(" ", deviceParams)).strip();
                yield LinuxBoot.load(memory, KernelImage.parse(kernelBytes), initrd, commandLine, spec.vcpus());
            }
            case VmSpec.Program p -> LinuxBoot.loadProgram(memory, p.code(), p.address(), spec.vcpus());
        };

        // vCPUs
        List<CpuidEntry> supported = kvm.supportedCpuid();
        CpuidPolicy cpuid = new CpuidPolicy(spec.vcpus(), kvm.tscDeadlineTimer(), spec.pvHypercalls());
        boolean allStart = spec.boot() instanceof VmSpec.Program p && p.allVcpus();
        ExitHandler handler = new Exits();
        for (int i = 0; i < spec.vcpus(); i++) {
            KvmVcpu kv = vm.createVcpu(i);
            Vcpu vcpu = new Vcpu(kv, handler);
            vcpus.add(vcpu);
            kv.setCpuid(cpuid.apply(supported, i));
            kv.setMsrs(BootCpu.msrs());
            kv.setFpu(X86.FPU_FCW, X86.FPU_MXCSR);
            kv.setLapic(BootCpu.lapicWithLocalInterrupts(kv.lapic()));
            if (i == 0 || allStart) {
                BootState own = i == 0 ? boot : new BootState(boot.entry(), boot.zeroPage(),
                        boot.stack() - i * AP_STACK_STRIDE, boot.pageTables(), boot.e820());
                kv.setSpecialRegisters(BootCpu.specialRegisters(own, kv.specialRegisters()));
                kv.setRegisters(BootCpu.registers(own));
                if (i > 0) {
                    kv.setRunnable();
                }
            }
        }
    }

    private VirtioDevice device(DeviceSpec d) {
        try {
            return switch (d) {
                case DeviceSpec.Block b -> new VirtioBlock(new BlockConfig(b.path(), b.readOnly(), b.serial()));
                case DeviceSpec.Net n -> {
                    Tap tap = n.netns() == null ? Tap.open(n.tap()) : Tap.openIn(n.netns(), n.tap());
                    try {
                        yield new VirtioNet(new TapBackend(tap), n.mac());
                    } catch (RuntimeException e) {
                        tap.close();
                        throw e;
                    }
                }
                case DeviceSpec.Vsock v -> new VirtioVsock(new VsockConfig(v.guestCid(), v.socket()));
                case DeviceSpec.Console c -> new VirtioConsole(Fd.open(c.output().toString(),
                        OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_APPEND | OpenFlags.O_CLOEXEC, 0600), null);
                case DeviceSpec.Rng r -> new VirtioRng();
                case DeviceSpec.Fs f -> {
                    // the server outlives the device's transport: closed with the other resources, after it
                    FuseServer server = new FuseServer(ShareLimits.configFor(f.sharedDir()).withCache(f.cache()));
                    resources.add(server);
                    yield new InlineVirtioFs(server, f.tag());
                }
            };
        } catch (LinuxException | IllegalArgumentException e) {
            throw new VmmException("cannot create " + d + ": " + e.getMessage(), e);
        }
    }

    /** An irqfd on {@code gsi}: writing the eventfd raises the IOAPIC pin without an exit. */
    private InterruptLine irqLine(int gsi) {
        Fd fd = SystemCalls.eventfd(0, SystemCalls.EFD_CLOEXEC | SystemCalls.EFD_NONBLOCK);
        resources.add(fd);
        vm.registerIrqfd(fd, gsi);
        return () -> SystemCalls.eventfdSignal(fd); // closed during teardown: no one is left to interrupt
    }

    private static byte[] readFile(java.nio.file.Path p, String what) {
        try {
            long size = Files.size(p);
            if (size > KernelImage.MAX_BYTES) {
                throw new VmmException(what + " " + p + " is larger than " + KernelImage.MAX_BYTES + " bytes");
            }
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new VmmException("cannot read the " + what + " " + p + ": " + e.getMessage(), e);
        }
    }

    /** The exits the vCPUs hand over: to the port and MMIO buses, and the end of the guest. */
    private final class Exits implements ExitHandler {
        @Override
        public void portRead(int port, byte[] data) {
            ports.read(port, data);
        }

        @Override
        public void portWrite(int port, byte[] data) {
            ports.write(port, data);
        }

        @Override
        public void mmioRead(long address, byte[] data) {
            mmio.read(address, data);
        }

        @Override
        public void mmioWrite(long address, byte[] data) {
            if (address >= MemoryMap.VIRTIO_MMIO_BASE && (address & (MemoryMap.VIRTIO_MMIO_SIZE - 1)) == MmioTransport.QUEUE_NOTIFY) {
                notifyExits.increment();
            }
            mmio.write(address, data);
        }

        @Override
        public void guestEnded(VcpuEnd end) {
            end(end);
        }

        @Override
        public void vcpuStopped(int id) {
            if (running.decrementAndGet() == 0) {
                VmExit e = firstEnd.get();
                exit.complete(e == null ? new VmExit.Stopped() : e);
            }
        }
    }

    private void end(VcpuEnd end) {
        VmExit e = switch (end) {
            case VcpuEnd.Reset r -> new VmExit.GuestReset();
            case VcpuEnd.Shutdown s -> new VmExit.GuestShutdown(s.how());
            case VcpuEnd.Failed f -> new VmExit.Failed(f.why());
        };
        if (firstEnd.compareAndSet(null, e)) {
            LOG.log(System.Logger.Level.INFO, "VM ended: " + e);
        }
        for (Vcpu v : vcpus) {
            v.requestStop();
        }
    }

    // ---------------------------------------------------------------- control

    /** Starts the device event loop and every vCPU. */
    public synchronized void start() {
        if (started || closed) {
            throw new IllegalStateException(closed ? "closed" : "already started");
        }
        started = true;
        loop.start("kava-vm-devices");
        loop.execute(() -> loopTid = dev.kava.linux.ThreadSignals.gettid());
        running.set(vcpus.size());
        for (Vcpu v : vcpus) {
            v.start("kava-vcpu-" + v.id());
        }
    }

    /** Holds every vCPU outside the guest; returns once they all are. Devices keep serving. */
    public void pause() {
        for (Vcpu v : vcpus) {
            v.requestPause();
        }
        try {
            for (Vcpu v : vcpus) {
                if (!v.awaitPaused(10_000)) {
                    throw new VmmException("vCPU " + v.id() + " did not pause within 10 s");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmmException("interrupted while pausing");
        }
    }

    /** Lets paused vCPUs run again. */
    public void resume() {
        for (Vcpu v : vcpus) {
            v.resume();
        }
    }

    /** Ends the VM (its exit is {@link VmExit.Stopped} unless the guest ended first); returns at once. */
    public void stop() {
        firstEnd.compareAndSet(null, new VmExit.Stopped());
        for (Vcpu v : vcpus) {
            v.requestStop();
        }
        if (!started) {
            exit.complete(firstEnd.get());
        }
    }

    /** Completes when the VM has ended, with how. */
    public CompletableFuture<VmExit> exit() {
        return exit.copy();
    }

    /** Each vCPU's state. */
    public List<Vcpu.State> vcpuStates() {
        return vcpus.stream().map(Vcpu::state).toList();
    }

    /** The kernel thread ids of the VM's threads (vCPUs, then the device event loop) while it runs. */
    public List<Long> threadIds() {
        List<Long> ids = new ArrayList<>();
        for (Vcpu v : vcpus) {
            if (v.tid() != 0 && v.state() != Vcpu.State.STOPPED) {
                ids.add((long) v.tid());
            }
        }
        if (loopTid != 0 && !closed) {
            ids.add((long) loopTid);
        }
        return List.copyOf(ids);
    }

    /** The kernel command line the guest got (with the virtio-mmio devices), empty for a program. */
    public String commandLine() {
        return commandLine;
    }

    /** The guest's RAM (for tests and the agent's shared files; closed with the VM). */
    public GuestMemory memory() {
        return memory;
    }

    /** Where each virtio device sits, in {@link VmSpec#devices()} order. */
    public List<MmioSlot> slots() {
        return List.copyOf(slots);
    }

    /** The virtio transports, in {@link VmSpec#devices()} order. */
    public List<MmioTransport> transports() {
        return List.copyOf(transports);
    }

    /** Counts: port exits, MMIO exits, QueueNotify writes that exited (not caught by an ioeventfd), kicks. */
    public record Stats(long portExits, long mmioExits, long notifyExits, long kicks) {}

    public Stats stats() {
        return new Stats(vcpus.stream().mapToLong(Vcpu::portExits).sum(), vcpus.stream().mapToLong(Vcpu::mmioExits).sum(),
                notifyExits.sum(), vcpus.stream().mapToLong(Vcpu::kicks).sum());
    }

    /** Nanoseconds from {@link #create} to the boot vCPU's first KVM_RUN, or -1 before it. */
    public long createToFirstEntryNanos() {
        long first = vcpus.isEmpty() ? 0 : vcpus.getFirst().firstEntryNanos();
        return first == 0 ? -1 : first - createdNanos;
    }

    /** Stops the VM, waits for its threads, and releases every resource. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stop();
        for (Vcpu v : vcpus) {
            try {
                if (!v.join(10_000)) {
                    LOG.log(System.Logger.Level.ERROR, "vCPU " + v.id() + " did not stop; leaking it");
                    return; // never unmap memory a running vCPU may still use
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (loop != null) {
            loop.close();
        }
        for (MmioTransport t : transports) {
            quietly(t);
        }
        for (AutoCloseable r : resources.reversed()) {
            quietly(r);
        }
        for (Vcpu v : vcpus) {
            quietly(v.kvm());
        }
        quietly(vm);
        quietly(kvm);
        quietly(memory);
        exit.complete(firstEnd.get() == null ? new VmExit.Stopped() : firstEnd.get());
    }

    private static void quietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "closing " + c + ": " + e);
        }
    }
}
