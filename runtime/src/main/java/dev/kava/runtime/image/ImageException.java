package dev.kava.runtime.image;

import java.io.Serial;

/** A container image could not be found, read, verified or unpacked. The message is meant for the user. */
public class ImageException extends Exception {
    @Serial private static final long serialVersionUID = 1L;

    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
