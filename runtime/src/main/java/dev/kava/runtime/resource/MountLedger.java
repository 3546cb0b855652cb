package dev.kava.runtime.resource;

/**
 * Where resources record the host mounts they make, before making them (the sandbox persists it), so
 * that a crash between mount and record cannot leak a mount.
 */
public interface MountLedger {
    void willMount(String mountPoint);

    void unmounted(String mountPoint);
}
