package dev.kava.runtime.image;

import java.nio.file.Path;

/** Test helper: {@code main(cacheDir, reference)} resolves an image in a separate JVM and prints its steps and rootfs. */
final class ResolveInAnotherProcess {
    private ResolveInAnotherProcess() { }

    public static void main(String[] args) throws Exception {
        Image image = new ImageStore(Path.of(args[0])).resolve(args[1], step -> System.out.println("step: " + step));
        System.out.println("rootfs: " + image.rootfs());
    }
}
