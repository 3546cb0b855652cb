package dev.kava.runtime.sandbox;

/**
 * Memory and process figures of a running sandbox.
 *
 * @param vmPid            the hypervisor process, 0 when in-process or not running
 * @param vmRssKiB         its resident set (VmRSS), 0 when unknown
 * @param runtimeRssKiB    the kava process's own resident set
 * @param guestUsedKiB     guest memory in use as the guest kernel sees it (MemTotal - MemFree), 0 when unknown
 * @param guestTotalKiB    guest MemTotal
 * @param runtimeThreads   threads of the kava process
 */
public record SandboxFigures(long vmPid, long vmRssKiB, long runtimeRssKiB, long guestUsedKiB, long guestTotalKiB,
                             int runtimeThreads) {}
