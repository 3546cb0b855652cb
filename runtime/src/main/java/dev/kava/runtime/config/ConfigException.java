package dev.kava.runtime.config;

/** A configuration file that cannot be read or holds a bad value; the message names the key and the file. */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }
}
