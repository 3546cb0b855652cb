package dev.kava.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code kava bench ...}: the benchmarks behind the figures in docs/specification.md. */
@Command(name = "bench", description = "Benchmarks: startup (kava run vs plain QEMU), ttrpc (round trips), ctr (the containerd shim vs runc), fs (virtio-fs vs 9p), vmm (the built-in VMM vs the qemu plugin).",
        subcommands = {StartupBench.class, TtrpcBench.class, CtrBench.class, FsBench.class, VmmBench.class})
final class BenchCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("kava bench: name a benchmark: startup, ttrpc, ctr, fs, vmm (kava bench --help)");
        return 2;
    }
}
