package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ErrnoTest {
    @Test
    void tableMatchesGlibcNamesAndTexts() {
        int checked = 0;
        for (int errno : Errno.tabled()) {
            String libcName = Errno.libcName(errno);
            if (libcName == null) {
                continue; // libc older than 2.32: nothing to compare with
            }
            assertEquals(libcName, Errno.name(errno), "name of " + errno);
            assertEquals(Errno.libcDescription(errno), Errno.describe(errno), "text of " + errno);
            checked++;
        }
        assertTrue(checked > 40, "compared " + checked);
    }

    @Test
    void unknownErrnosFallBackToLibcOrANumber() {
        assertEquals("EOWNERDEAD", Errno.name(130));
        assertEquals("errno 9999", Errno.name(9999));
        assertTrue(Errno.describe(9999).contains("9999"));
    }

    @Test
    void exceptionMessageNamesCallTextAndSymbol() {
        ErrnoException e = new ErrnoException("open(/x)", Errno.ENOENT);
        assertEquals("open(/x): No such file or directory (ENOENT)", e.getMessage());
        assertTrue(e instanceof LinuxException);
    }
}
