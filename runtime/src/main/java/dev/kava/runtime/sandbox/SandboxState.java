package dev.kava.runtime.sandbox;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a sandbox has set up on the host, persisted in {@code <stateDir>/state.json} before each step
 * takes effect, so that {@code kava cleanup} can undo the work of a process that died: the VM
 * process to kill and the mounts to undo.
 *
 * @param ownerPid       the kava process that owns the sandbox
 * @param ownerStartTime its start time in clock ticks (field 22 of /proc/PID/stat), so a reused pid is not mistaken for it
 * @param vmPid          the hypervisor process, 0 until it runs
 * @param mounts         host mount points, in the order they were mounted
 */
public record SandboxState(String id, long ownerPid, long ownerStartTime, String hypervisor, long vmPid,
                           List<String> mounts, String created) {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
    public static final String FILE = "state.json";

    public SandboxState {
        mounts = List.copyOf(mounts);
    }

    public SandboxState withVmPid(long pid) {
        return new SandboxState(id, ownerPid, ownerStartTime, hypervisor, pid, mounts, created);
    }

    public SandboxState withMount(String mountPoint) {
        List<String> m = new ArrayList<>(mounts);
        m.add(mountPoint);
        return new SandboxState(id, ownerPid, ownerStartTime, hypervisor, vmPid, m, created);
    }

    public SandboxState withoutMount(String mountPoint) {
        List<String> m = new ArrayList<>(mounts);
        m.remove(mountPoint);
        return new SandboxState(id, ownerPid, ownerStartTime, hypervisor, vmPid, m, created);
    }

    /** Writes the state atomically (temp file and rename). */
    public void save(Path stateDir) throws IOException {
        Path tmp = stateDir.resolve(FILE + ".tmp");
        Files.writeString(tmp, GSON.toJson(this), StandardCharsets.UTF_8);
        Files.move(tmp, stateDir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public static Optional<SandboxState> load(Path stateDir) {
        try {
            String json = Files.readString(stateDir.resolve(FILE));
            return Optional.ofNullable(GSON.fromJson(json, SandboxState.class));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** The start time of a process in clock ticks, or -1 when it does not exist. */
    public static long startTimeOf(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[19]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Whether the owner recorded here is still the same live process (a zombie or a dying one is not). */
    public boolean ownerAlive() {
        long t = startTimeOf(ownerPid);
        return t >= 0 && t == ownerStartTime && !exiting(ownerPid);
    }

    private static boolean exiting(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state == 'Z' || state == 'X' || state == 'x';
        } catch (IOException | RuntimeException e) {
            return true;
        }
    }
}
