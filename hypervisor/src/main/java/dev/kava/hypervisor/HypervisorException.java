package dev.kava.hypervisor;

/** The one exception type of the hypervisor module: a VM could not be configured, started or controlled. */
public class HypervisorException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public HypervisorException(String message) {
        super(message);
    }

    public HypervisorException(String message, Throwable cause) {
        super(message, cause);
    }
}
