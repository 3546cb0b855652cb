package dev.kava.vmm.mmio;

import dev.kava.linux.testing.CHeaders;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The virtio-mmio register offsets and status bits checked against {@code <linux/virtio_mmio.h>} and {@code <linux/virtio_config.h>}. */
class MmioHeadersTest {
    private static final Set<String> NOT_REGISTERS = Set.of("MAGIC_VALUE", "VERSION", "VENDOR_ID");
    private static final Map<String, String> RENAMED = Map.of(
            "MAGIC", "VIRTIO_MMIO_MAGIC_VALUE", "VERSION_REG", "VIRTIO_MMIO_VERSION", "VENDOR_ID_REG", "VIRTIO_MMIO_VENDOR_ID",
            "S_ACKNOWLEDGE", "VIRTIO_CONFIG_S_ACKNOWLEDGE", "S_DRIVER", "VIRTIO_CONFIG_S_DRIVER",
            "S_DRIVER_OK", "VIRTIO_CONFIG_S_DRIVER_OK", "S_FEATURES_OK", "VIRTIO_CONFIG_S_FEATURES_OK",
            "S_DEVICE_NEEDS_RESET", "VIRTIO_CONFIG_S_NEEDS_RESET", "S_FAILED", "VIRTIO_CONFIG_S_FAILED");

    @Test
    void registerOffsetsAndStatusBitsMatchTheLinuxHeaders(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        for (Field f : MmioTransport.class.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (!Modifier.isPublic(mod) || !Modifier.isStatic(mod) || f.getType() != int.class || NOT_REGISTERS.contains(f.getName())) {
                continue;
            }
            expected.put(RENAMED.getOrDefault(f.getName(), "VIRTIO_MMIO_" + f.getName()), (long) f.getInt(null));
        }
        CHeaders.assertMatch(dir, List.of("linux/virtio_mmio.h", "linux/virtio_config.h"), expected);
    }
}
