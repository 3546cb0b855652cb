package dev.kava.agent.guest;

import dev.kava.agent.AgentErrors;
import dev.kava.agent.container.ContainerService;
import dev.kava.api.agent.CreateSandboxRequest;
import dev.kava.ttrpc.TtrpcException;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/** CreateSandbox and DestroySandbox. */
public final class SandboxService {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.guest");
    private static final Pattern HOSTNAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,62})?");

    private final ContainerService containers;
    private final Runnable powerOff;
    private final boolean guest;
    private final List<String> mounts = new ArrayList<>();

    /**
     * {@code powerOff} ends the VM after DestroySandbox replied; {@code guest} says whether
     * system state (hostname) may be changed.
     */
    public SandboxService(ContainerService containers, Runnable powerOff, boolean guest) {
        this.containers = containers;
        this.powerOff = powerOff;
        this.guest = guest;
    }

    public synchronized void create(CreateSandboxRequest req) throws TtrpcException {
        String host = req.getHostname();
        if (!host.isEmpty() && !HOSTNAME.matcher(host).matches()) {
            throw AgentErrors.invalid("hostname `" + host + "` is not valid");
        }
        mounts.addAll(StorageMounts.mountAll(req.getStoragesList()));
        if (!host.isEmpty() && guest) {
            GuestSetup.hostname(host);
        }
        LOG.info("sandbox " + req.getSandboxId() + " created (" + req.getStoragesCount() + " storages)");
    }

    /** Kills every container, unmounts the storages, and schedules the power-off. */
    public synchronized void destroy() {
        containers.removeAll();
        StorageMounts.unmountAll(mounts);
        mounts.clear();
        powerOff.run();
    }
}
