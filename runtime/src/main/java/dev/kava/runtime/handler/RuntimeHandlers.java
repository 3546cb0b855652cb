package dev.kava.runtime.handler;

import dev.kava.runtime.KavaException;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** The registry of runtime handlers on the class path. */
public final class RuntimeHandlers {
    private RuntimeHandlers() {}

    public static RuntimeHandler find(String name) {
        List<String> known = new ArrayList<>();
        for (RuntimeHandler h : ServiceLoader.load(RuntimeHandler.class)) {
            if (h.name().equals(name)) {
                return h;
            }
            known.add(h.name());
        }
        throw new KavaException("no runtime handler named \"" + name + "\" (available: " + known + ")");
    }
}
