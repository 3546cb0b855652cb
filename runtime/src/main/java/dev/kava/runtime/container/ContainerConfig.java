package dev.kava.runtime.container;

import dev.kava.runtime.image.Image;
import dev.kava.runtime.oci.OciSpec;
import java.util.List;

/** What to run: the image, the process, and host paths bind-mounted into the container. */
public record ContainerConfig(String id, Image image, OciSpec.Process process, List<Volume> volumes) {
    public ContainerConfig {
        volumes = List.copyOf(volumes == null ? List.of() : volumes);
    }

    /** A container without volumes. */
    public ContainerConfig(String id, Image image, OciSpec.Process process) {
        this(id, image, process, List.of());
    }
}
