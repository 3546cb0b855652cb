package dev.kava.vmm.vcpu;

/**
 * What a {@link Vcpu} does with the exits it cannot handle alone: port and MMIO accesses go to the
 * VM's buses; the end of the guest (a reset, a triple fault, an error) goes to the VM. Called on
 * the vCPU's thread; implementations are thread-safe (every vCPU calls them).
 */
public interface ExitHandler {
    /** A port read of {@code data.length} bytes; fill {@code data}. */
    void portRead(int port, byte[] data);

    /** A port write. */
    void portWrite(int port, byte[] data);

    /** An MMIO read of {@code data.length} bytes; fill {@code data}. */
    void mmioRead(long address, byte[] data);

    /** An MMIO write. */
    void mmioWrite(long address, byte[] data);

    /** The guest ended (or broke) on this vCPU: the VM should stop. */
    void guestEnded(VcpuEnd end);

    /** The vCPU's thread is about to end (whatever the reason); the last thing it does. */
    void vcpuStopped(int id);
}
