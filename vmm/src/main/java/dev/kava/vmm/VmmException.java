package dev.kava.vmm;

/**
 * The one exception type of the vmm module: a VM could not be built, booted or controlled (KVM
 * refused an ioctl, a kernel image is malformed, a device back-end cannot be opened). The message
 * names the step and the cause. Guest misbehaviour is never reported this way: it is answered
 * inside the VM (an error status, a reset device, the VM's exit).
 */
public class VmmException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public VmmException(String message) {
        super(message);
    }

    public VmmException(String message, Throwable cause) {
        super(message, cause);
    }
}
