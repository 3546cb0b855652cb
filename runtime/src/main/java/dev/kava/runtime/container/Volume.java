package dev.kava.runtime.container;

import dev.kava.runtime.KavaException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A host file or directory bind-mounted into a container ({@code kava run -v HOST:CONTAINER[:ro]}).
 * It reaches the guest through the sandbox's shared directory: the runtime binds it there (read-only
 * on the host too when {@code readOnly}), and the container's OCI spec binds it from there to
 * {@code containerPath}.
 *
 * @param hostPath      absolute path on the host; must exist when the container is created
 * @param containerPath absolute path inside the container, without {@code ..}
 * @param readOnly      writes fail (EROFS) inside the container and on the host mount
 */
public record Volume(Path hostPath, String containerPath, boolean readOnly) {
    public Volume {
        Objects.requireNonNull(hostPath, "hostPath");
        Objects.requireNonNull(containerPath, "containerPath");
        if (!hostPath.isAbsolute()) {
            throw new KavaException("volume " + hostPath + ": the host path must be absolute");
        }
        if (!containerPath.startsWith("/")) {
            throw new KavaException("volume " + hostPath + ":" + containerPath + ": the container path must be absolute");
        }
        for (String part : containerPath.split("/")) {
            if (part.equals("..")) {
                throw new KavaException("volume " + hostPath + ":" + containerPath + ": the container path must not contain ..");
            }
        }
        if (containerPath.replace("/", "").isEmpty()) {
            throw new KavaException("volume " + hostPath + ":" + containerPath + ": cannot mount over the container's root");
        }
        if (containerPath.indexOf('\0') >= 0 || hostPath.toString().indexOf('\0') >= 0) {
            throw new KavaException("volume paths must not contain NUL");
        }
    }

    /**
     * Parses {@code HOST_PATH:CONTAINER_PATH[:ro|:rw]} (paths cannot contain ':'). Errors say what
     * is wrong: the shape, a relative path, or a mode other than ro and rw.
     */
    public static Volume parse(String spec) {
        String[] parts = spec.split(":", -1);
        if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw new KavaException("-v " + spec + ": expected HOST_PATH:CONTAINER_PATH[:ro]");
        }
        boolean ro = false;
        if (parts.length == 3) {
            switch (parts[2]) {
                case "ro" -> ro = true;
                case "rw" -> ro = false;
                default -> throw new KavaException("-v " + spec + ": the mode must be ro or rw, not \"" + parts[2] + "\"");
            }
        }
        if (!parts[0].startsWith("/")) {
            throw new KavaException("-v " + spec + ": the host path must be absolute (" + parts[0] + " is relative)");
        }
        return new Volume(Path.of(parts[0]).normalize(), parts[1], ro);
    }
}
