package dev.kava.runtime.container;

import dev.kava.runtime.image.Image;
import dev.kava.runtime.oci.OciSpec;

/** What to run: the image and the process. */
public record ContainerConfig(String id, Image image, OciSpec.Process process) {}
