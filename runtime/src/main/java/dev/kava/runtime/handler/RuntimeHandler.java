package dev.kava.runtime.handler;

import dev.kava.runtime.config.KavaConfig;
import dev.kava.runtime.sandbox.Sandbox;

/**
 * A kind of runtime: how a sandbox is isolated. "virt" runs each sandbox in its own VM; others
 * (plain Linux containers, WebAssembly) plug in here. Found with {@link java.util.ServiceLoader}.
 */
public interface RuntimeHandler {
    /** The name configured as {@code runtime.handler}. */
    String name();

    /** A new, not yet started sandbox. */
    Sandbox newSandbox(String id, KavaConfig config);
}
