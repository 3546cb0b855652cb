package dev.kava.runtime.handler;

import dev.kava.runtime.config.KavaConfig;
import dev.kava.runtime.sandbox.Sandbox;
import dev.kava.runtime.sandbox.VirtSandbox;

/** "virt": every sandbox is a VM, containers run in it through the guest agent. */
public final class VirtRuntimeHandler implements RuntimeHandler {
    @Override
    public String name() {
        return "virt";
    }

    @Override
    public Sandbox newSandbox(String id, KavaConfig config) {
        return new VirtSandbox(id, config);
    }
}
