package dev.kava.runtime.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TarReaderTest {
    private static final String LONG = "very/" + "long-directory-name/".repeat(8) + "file.txt";

    private static TarReader reader(byte[] tar) {
        return new TarReader(new ByteArrayInputStream(tar));
    }

    @Test
    void readsUstarEntriesOfEveryKind() throws Exception {
        TarReader r = reader(new TarWriter().dir("d/").file("d/f", "hello", 04755).symlink("d/s", "f")
                .hardlink("d/h", "d/f").fifo("d/p").charDevice("d/null").finish());
        TarReader.Entry d = r.next();
        assertEquals(TarReader.Type.DIRECTORY, d.type());
        TarReader.Entry f = r.next();
        assertEquals("d/f", f.name());
        assertEquals(04755, f.mode());
        assertEquals(1_700_000_000L, f.mtimeSeconds());
        assertEquals("hello", new String(r.content().readAllBytes(), StandardCharsets.UTF_8));
        assertEquals(TarReader.Type.SYMLINK, r.next().type());
        TarReader.Entry h = r.next();
        assertEquals(TarReader.Type.HARDLINK, h.type());
        assertEquals("d/f", h.linkName());
        assertEquals(TarReader.Type.FIFO, r.next().type());
        assertEquals(TarReader.Type.CHAR_DEVICE, r.next().type());
        assertNull(r.next());
    }

    @Test
    void skipsUnreadDataOfThePreviousEntry() throws Exception {
        TarReader r = reader(new TarWriter().file("a", "x".repeat(1500)).file("b", "second").finish());
        r.next();
        TarReader.Entry b = r.next();
        assertEquals("b", b.name());
        assertEquals("second", new String(r.content().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Test
    void readsGnuLongNamesAndLinks() throws Exception {
        String longTarget = "target/" + "x".repeat(120);
        TarReader r = reader(new TarWriter().longNames(TarWriter.LongNames.GNU)
                .file(LONG, "content").symlink("link", longTarget).finish());
        TarReader.Entry f = r.next();
        assertEquals(LONG, f.name());
        assertEquals("content", new String(r.content().readAllBytes(), StandardCharsets.UTF_8));
        assertEquals(longTarget, r.next().linkName());
    }

    @Test
    void appliesPaxPathLinkpathSizeAndMtime() throws Exception {
        TarWriter w = new TarWriter().longNames(TarWriter.LongNames.PAX);
        w.file(LONG, "pax");
        w.pax('x', "mtime", "1234567890.5", "path", "renamed/by/pax");
        w.file("short", "abc");
        TarReader r = reader(w.finish());
        assertEquals(LONG, r.next().name());
        TarReader.Entry e = r.next();
        assertEquals("renamed/by/pax", e.name());
        assertEquals(1234567890L, e.mtimeSeconds());
        assertEquals("abc", new String(r.content().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Test
    void paxSizeOverridesTheHeaderSize() throws Exception {
        TarWriter w = new TarWriter();
        w.pax('x', "size", "5");
        w.header("f", '0', 0644, 0, 0, "", 0);  // header says 0 bytes, pax says 5
        w.data("12345".getBytes(StandardCharsets.US_ASCII));
        w.file("next", "n");
        TarReader r = reader(w.finish());
        TarReader.Entry e = r.next();
        assertEquals(5, e.size());
        assertArrayEquals("12345".getBytes(StandardCharsets.US_ASCII), r.content().readAllBytes());
        assertEquals("next", r.next().name());
    }

    @Test
    void globalPaxHeadersApplyToAllLaterEntries() throws Exception {
        TarWriter w = new TarWriter();
        w.pax('g', "mtime", "42");
        w.file("a", "1").file("b", "2");
        TarReader r = reader(w.finish());
        assertEquals(42, r.next().mtimeSeconds());
        assertEquals(42, r.next().mtimeSeconds());
    }

    @Test
    void readsUstarPrefixField() throws Exception {
        byte[] tar = new TarWriter().file("name", "x").finish();
        byte[] prefix = "some/prefix".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(prefix, 0, tar, 345, prefix.length);
        fixChecksum(tar);
        assertEquals("some/prefix/name", reader(tar).next().name());
    }

    @Test
    void rejectsAHeaderWithABadChecksum() {
        byte[] tar = new TarWriter().file("a", "x").finish();
        tar[0] = 'b';
        ImageException e = assertThrows(ImageException.class, () -> reader(tar).next());
        assertTrue(e.getMessage().contains("checksum"), e.getMessage());
    }

    @Test
    void readsBase256Numbers() throws Exception {
        byte[] field = new byte[12];
        field[0] = (byte) 0x80;
        field[11] = 1;
        field[10] = 2;
        assertEquals(0x201, TarReader.number(field, 0, 12));
    }

    static void fixChecksum(byte[] h) {
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        long sum = 0;
        for (int i = 0; i < 512; i++) {
            sum += h[i] & 0xff;
        }
        byte[] octal = String.format("%06o\0", sum).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(octal, 0, h, 148, octal.length);
    }
}
