package dev.kava.agent;

import dev.kava.agent.channel.SerialChannel;
import dev.kava.agent.channel.VsockChannel;
import dev.kava.agent.guest.GuestSetup;
import dev.kava.agent.guest.PowerOff;
import dev.kava.agent.process.ChildProcesses;
import dev.kava.agent.rpc.AgentServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The agent's entry point. In the guest it is PID 1: if it returned, the kernel would panic, so
 * {@link #main} never returns there; every failure is logged and the agent serves on (or, with
 * nothing left to serve on, keeps reaping). The VM ends only through DestroySandbox.
 */
public final class AgentMain {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent");
    /** How often orphaned zombies are swept. */
    private static final long SWEEP_MS = 2000;

    private AgentMain() {}

    public static void main(String[] args) {
        long mainAt = System.nanoTime();
        AgentOptions opts;
        // the JDK's pid, not an FFM call: linking downcalls costs ~0.1 s at start under emulation
        boolean pid1 = ProcessHandle.current().pid() == 1;
        try {
            opts = AgentOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("kava-agent: " + e.getMessage() + "\n" + AgentOptions.USAGE);
            if (!pid1) {
                System.exit(2);
            }
            opts = AgentOptions.defaults();
        }
        AgentLog.install(opts.logLevel());
        // the console then shows the JVM's share of the boot: from kava-init's line to this one
        LOG.info(String.format("main entered at %.3f", mainAt / 1e9));
        Thread.setDefaultUncaughtExceptionHandler((t, e) ->
                LOG.log(Level.SEVERE, "uncaught in " + t.getName(), e));
        if (opts.train()) {
            System.exit(Training.run() ? 0 : 1);
        }
        try {
            run(opts, pid1);
        } catch (Throwable t) {
            LOG.log(Level.SEVERE, "agent failed", t);
            if (!pid1) {
                System.exit(1);
            }
        }
        parkForever(); // PID 1 never returns
    }

    private static void run(AgentOptions opts, boolean pid1) throws Exception {
        if (opts.mounts()) {
            GuestSetup.mountSystem();
        }
        if (pid1) {
            GuestSetup.hostname("kava");
        }
        AgentConfig config = opts.config();
        Files.createDirectories(config.stateDir().resolve("containers"));
        Files.createDirectories(config.sharedDir());
        Files.createDirectories(config.crunRoot());
        ChildProcesses children = new ChildProcesses();
        ChildProcesses.becomeSubreaper();
        children.startSweeping(SWEEP_MS);
        boolean guest = pid1;
        AgentServer server = new AgentServer(config, children, () -> PowerOff.schedule(50, guest), pid1);
        if (opts.listenUnix() != null) {
            Path sock = opts.listenUnix();
            Files.deleteIfExists(sock);
            server.ttrpc().listen(sock);
            LOG.info("ready on unix " + sock);
            return;
        }
        if (opts.vsockPort() > 0) {
            VsockChannel.start(server.ttrpc(), opts.vsockPort());
        }
        new SerialChannel(server.ttrpc(), opts.serialPortName()).run(); // never returns
    }

    private static void parkForever() {
        while (true) {
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                // keep going
            }
        }
    }
}
