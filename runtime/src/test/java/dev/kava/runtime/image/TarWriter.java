package dev.kava.runtime.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPOutputStream;

/** Test helper: writes tar archives byte by byte, including the GNU and pax forms the reader must handle. */
final class TarWriter {
    enum LongNames { GNU, PAX }

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private LongNames longNames = LongNames.GNU;
    private long mtime = 1_700_000_000L;

    TarWriter longNames(LongNames style) {
        this.longNames = style;
        return this;
    }

    TarWriter mtime(long seconds) {
        this.mtime = seconds;
        return this;
    }

    TarWriter dir(String name) {
        return entry(name, '5', 0755, 0, 0, "", new byte[0]);
    }

    TarWriter file(String name, String content) {
        return file(name, content, 0644);
    }

    TarWriter file(String name, String content, int mode) {
        return entry(name, '0', mode, 0, 0, "", content.getBytes(StandardCharsets.UTF_8));
    }

    TarWriter symlink(String name, String target) {
        return entry(name, '2', 0777, 0, 0, target, new byte[0]);
    }

    TarWriter hardlink(String name, String target) {
        return entry(name, '1', 0644, 0, 0, target, new byte[0]);
    }

    TarWriter fifo(String name) {
        return entry(name, '6', 0640, 0, 0, "", new byte[0]);
    }

    TarWriter charDevice(String name) {
        return entry(name, '3', 0666, 0, 0, "", new byte[0]);
    }

    /** A pax extended header ('x') or global header ('g') with the given records. */
    TarWriter pax(char type, String... keyValues) {
        ByteArrayOutputStream records = new ByteArrayOutputStream();
        for (int i = 0; i < keyValues.length; i += 2) {
            records.writeBytes(paxRecord(keyValues[i], keyValues[i + 1]));
        }
        header("pax_header", type, 0644, 0, 0, "", records.size());
        data(records.toByteArray());
        return this;
    }

    TarWriter entry(String name, char type, int mode, int uid, int gid, String link, byte[] data) {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        byte[] linkBytes = link.getBytes(StandardCharsets.UTF_8);
        String headerName = name;
        String headerLink = link;
        if (nameBytes.length > 100 || linkBytes.length > 100) {
            if (longNames == LongNames.GNU) {
                if (nameBytes.length > 100) {
                    header("././@LongLink", 'L', 0, 0, 0, "", nameBytes.length + 1);
                    data(nul(nameBytes));
                }
                if (linkBytes.length > 100) {
                    header("././@LongLink", 'K', 0, 0, 0, "", linkBytes.length + 1);
                    data(nul(linkBytes));
                }
            } else {
                pax('x', "path", name, "linkpath", link);
            }
            headerName = nameBytes.length > 100 ? "truncated-name" : name;
            headerLink = linkBytes.length > 100 ? "truncated-link" : link;
        }
        header(headerName, type, mode, uid, gid, headerLink, data.length);
        data(data);
        return this;
    }

    /** Raw header bytes for tests that corrupt them. */
    void header(String name, char type, int mode, int uid, int gid, String link, long size) {
        byte[] h = new byte[512];
        put(h, 0, 100, name.getBytes(StandardCharsets.UTF_8));
        octal(h, 100, 8, mode);
        octal(h, 108, 8, uid);
        octal(h, 116, 8, gid);
        octal(h, 124, 12, size);
        octal(h, 136, 12, mtime);
        h[156] = (byte) type;
        put(h, 157, 100, link.getBytes(StandardCharsets.UTF_8));
        put(h, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
        put(h, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        octal(h, 148, 7, sum);
        out.writeBytes(h);
    }

    void data(byte[] data) {
        out.writeBytes(data);
        int pad = (512 - data.length % 512) % 512;
        out.writeBytes(new byte[pad]);
    }

    byte[] finish() {
        out.writeBytes(new byte[1024]);
        return out.toByteArray();
    }

    static byte[] gzip(byte[] data) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static byte[] paxRecord(String key, String value) {
        int body = 1 + key.getBytes(StandardCharsets.UTF_8).length + 1 + value.getBytes(StandardCharsets.UTF_8).length + 1;
        int len = body + String.valueOf(body).length();
        if (String.valueOf(len).length() != String.valueOf(body).length()) {
            len++;
        }
        return (len + " " + key + "=" + value + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] nul(byte[] b) {
        byte[] out = new byte[b.length + 1];
        System.arraycopy(b, 0, out, 0, b.length);
        return out;
    }

    private static void put(byte[] h, int off, int len, byte[] value) {
        System.arraycopy(value, 0, h, off, Math.min(len, value.length));
    }

    private static void octal(byte[] h, int off, int len, long value) {
        String s = Long.toOctalString(value);
        String padded = "0".repeat(Math.max(0, len - 1 - s.length())) + s;
        put(h, off, len - 1, padded.getBytes(StandardCharsets.US_ASCII));
    }
}
