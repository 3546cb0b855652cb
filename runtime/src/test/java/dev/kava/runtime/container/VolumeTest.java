package dev.kava.runtime.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.runtime.KavaException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class VolumeTest {
    @Test
    void hostPathContainerPathAndMode() {
        assertEquals(new Volume(Path.of("/srv/data"), "/data", false), Volume.parse("/srv/data:/data"));
        assertEquals(new Volume(Path.of("/srv/data"), "/data", true), Volume.parse("/srv/data:/data:ro"));
        assertEquals(new Volume(Path.of("/srv/data"), "/data", false), Volume.parse("/srv/./data/:/data:rw"));
    }

    @Test
    void everyMistakeSaysWhatIsWrong() {
        assertMessage("expected HOST_PATH:CONTAINER_PATH[:ro]", "/srv/data");
        assertMessage("expected HOST_PATH:CONTAINER_PATH[:ro]", "/a:/b:ro:x");
        assertMessage("expected HOST_PATH:CONTAINER_PATH[:ro]", ":/data");
        assertMessage("the host path must be absolute (srv/data is relative)", "srv/data:/data");
        assertMessage("the container path must be absolute", "/srv/data:data");
        assertMessage("the mode must be ro or rw, not \"rx\"", "/srv:/data:rx");
        assertMessage("must not contain ..", "/srv:/data/../etc");
        assertMessage("cannot mount over the container's root", "/srv:/");
    }

    private static void assertMessage(String expected, String spec) {
        KavaException e = assertThrows(KavaException.class, () -> Volume.parse(spec));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().isBlank());
    }
}
