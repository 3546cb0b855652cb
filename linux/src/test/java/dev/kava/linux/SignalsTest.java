package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SignalsTest {
    @Test
    void parseAcceptsShortNameLongNameAndNumber() {
        assertEquals(Signals.SIGTERM, Signals.parse("TERM"));
        assertEquals(Signals.SIGTERM, Signals.parse("SIGTERM"));
        assertEquals(Signals.SIGTERM, Signals.parse("15"));
        assertEquals(Signals.SIGKILL, Signals.parse("kill"));
        assertEquals(Signals.SIGWINCH, Signals.parse(" sigwinch "));
        assertEquals(40, Signals.parse("40"));
    }

    @Test
    void parseRejectsUnknownNamesAndNumbersOutOfRange() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Signals.parse("SIGFOO"));
        assertTrue(e.getMessage().contains("SIGFOO"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Signals.parse("0"));
        assertThrows(IllegalArgumentException.class, () -> Signals.parse("65"));
        assertThrows(IllegalArgumentException.class, () -> Signals.parse("99999999999"));
        assertThrows(IllegalArgumentException.class, () -> Signals.parse(""));
        assertThrows(IllegalArgumentException.class, () -> Signals.parse("-9"));
    }

    @Test
    void nameReadsBackThroughParse() {
        for (int s = 1; s <= Signals.MAX; s++) {
            assertEquals(s, Signals.parse(Signals.name(s)));
        }
        assertEquals("SIGCHLD", Signals.name(Signals.SIGCHLD));
    }
}
