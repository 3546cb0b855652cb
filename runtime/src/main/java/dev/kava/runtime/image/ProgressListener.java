package dev.kava.runtime.image;

/** Receives one line per slow step of {@link ImageStore#resolve} ("unpacking layer 2/5 ..."). */
@FunctionalInterface
public interface ProgressListener {
    void step(String message);

    /** A listener that drops every message. */
    static ProgressListener silent() {
        return message -> { };
    }
}
