package dev.kava.runtime.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kava.runtime.config.KavaConfig;
import org.junit.jupiter.api.Test;

/** How the agent is told to mount the shared directory, for each shared file system. */
class ShareStorageTest {
    @Test
    void virtioFsIsMountedByTagAsVirtiofs() {
        var s = VirtSandbox.shareStorage(KavaConfig.SharedFs.VIRTIO_FS);
        assertEquals("virtio-fs", s.getDriver(), "the agent's StorageMounts driver");
        assertEquals("virtiofs", s.getFstype());
        assertEquals(VirtSandbox.SHARE_TAG, s.getSource());
        assertEquals(VirtSandbox.GUEST_SHARE, s.getMountPoint());
    }

    @Test
    void ninePStaysAsItWas() {
        var s = VirtSandbox.shareStorage(KavaConfig.SharedFs.NINE_P);
        assertEquals("9p", s.getDriver());
        assertEquals("9p", s.getFstype());
        assertEquals(VirtSandbox.SHARE_TAG, s.getSource());
    }
}
