package dev.kava.runtime.image;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * A streaming tar reader: ustar, GNU long names and links ('L', 'K'), pax extended and global headers
 * ('x', 'g': path, linkpath, size, mtime, uid, gid) and GNU base-256 numbers. It reads untrusted input:
 * header checksums are checked and metadata payloads are bounded. Not thread-safe.
 */
final class TarReader {
    static final int BLOCK = 512;
    private static final int MAX_METADATA = 1 << 20;

    enum Type { FILE, DIRECTORY, SYMLINK, HARDLINK, FIFO, CHAR_DEVICE, BLOCK_DEVICE }

    /** One archive member; {@code mode} holds the permission bits including setuid, setgid and sticky. */
    record Entry(String name, Type type, long size, int mode, int uid, int gid, long mtimeSeconds, String linkName) { }

    private final InputStream in;
    private final Map<String, String> globalPax = new HashMap<>();
    private long remaining;      // unread data bytes of the current entry
    private long padding;        // bytes after the data up to the next block
    private boolean ended;

    TarReader(InputStream in) {
        this.in = in;
    }

    /** The next entry, or null at the end of the archive. Skips whatever is left of the previous entry's data. */
    Entry next() throws IOException, ImageException {
        skipRest();
        String longName = null;
        String longLink = null;
        Map<String, String> pax = new HashMap<>(globalPax);
        while (!ended) {
            byte[] header = in.readNBytes(BLOCK);
            if (header.length == 0) {
                ended = true;  // some writers omit the end-of-archive blocks
                return null;
            }
            if (header.length < BLOCK) {
                throw new ImageException("malformed tar: truncated header");
            }
            if (isZero(header)) {
                ended = true;
                return null;
            }
            checkChecksum(header);
            char flag = (char) (header[156] & 0xff);
            long size = number(header, 124, 12);
            if (size < 0) {
                throw new ImageException("malformed tar: negative size");
            }
            switch (flag) {
                case 'L', 'K', 'x', 'g' -> {
                    if (size > MAX_METADATA) {
                        throw new ImageException("malformed tar: " + flag + " header of " + size + " bytes");
                    }
                    byte[] data = readFully((int) size);
                    skipExactly(pad(size));
                    switch (flag) {
                        case 'L' -> longName = cString(data, 0, data.length);
                        case 'K' -> longLink = cString(data, 0, data.length);
                        case 'x' -> parsePax(data, pax);
                        default -> {
                            Map<String, String> global = new HashMap<>();
                            parsePax(data, global);
                            globalPax.putAll(global);
                            pax.putAll(global);
                        }
                    }
                }
                default -> {
                    return entry(header, flag, size, longName, longLink, pax);
                }
            }
        }
        return null;
    }

    /** The data of the current entry; valid until the next call of {@link #next()}. */
    InputStream content() {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (remaining <= 0) {
                    return -1;
                }
                int n = in.read(b, off, (int) Math.min(len, remaining));
                if (n < 0) {
                    throw new EOFException("tar entry data is truncated");
                }
                remaining -= n;
                return n;
            }
        };
    }

    private Entry entry(byte[] h, char flag, long size, String longName, String longLink, Map<String, String> pax)
            throws IOException, ImageException {
        boolean ustar = h[257] == 'u' && h[258] == 's' && h[259] == 't' && h[260] == 'a' && h[261] == 'r';
        boolean posix = ustar && h[262] == 0;  // "ustar\0"; GNU writes "ustar  \0" and uses the prefix field otherwise
        String name = cString(h, 0, 100);
        if (posix && h[345] != 0) {
            name = cString(h, 345, 155) + "/" + name;
        }
        if (longName != null) {
            name = longName;
        }
        String link = longLink != null ? longLink : cString(h, 157, 100);
        long mtime = number(h, 136, 12);
        long uid = number(h, 108, 8);
        long gid = number(h, 116, 8);
        name = pax.getOrDefault("path", name);
        link = pax.getOrDefault("linkpath", link);
        try {
            if (pax.containsKey("size")) {
                size = Long.parseLong(pax.get("size"));
            }
            if (pax.containsKey("mtime")) {
                mtime = (long) Double.parseDouble(pax.get("mtime"));
            }
            if (pax.containsKey("uid")) {
                uid = Long.parseLong(pax.get("uid"));
            }
            if (pax.containsKey("gid")) {
                gid = Long.parseLong(pax.get("gid"));
            }
        } catch (NumberFormatException e) {
            throw new ImageException("malformed tar: bad number in pax header of " + name);
        }
        if (size < 0 || uid < 0 || uid > 0xffff_ffffL || gid < 0 || gid > 0xffff_ffffL) {
            throw new ImageException("malformed tar: bad size or owner for " + name);
        }
        Type type = switch (flag) {
            case '0', '\0', '7' -> name.endsWith("/") ? Type.DIRECTORY : Type.FILE;
            case '1' -> Type.HARDLINK;
            case '2' -> Type.SYMLINK;
            case '3' -> Type.CHAR_DEVICE;
            case '4' -> Type.BLOCK_DEVICE;
            case '5' -> Type.DIRECTORY;
            case '6' -> Type.FIFO;
            default -> throw new ImageException("unsupported tar entry type '" + flag + "' for " + name);
        };
        int mode = (int) (number(h, 100, 8) & 07777);
        remaining = type == Type.FILE ? size : 0;
        padding = type == Type.FILE ? pad(size) : 0;
        if (type != Type.FILE && size > 0) {
            // non-file entries normally carry no data, but skip any that is there
            skipExactly(size + pad(size));
        }
        return new Entry(name, type, size, mode, (int) uid, (int) gid, mtime, link);
    }

    private void skipRest() throws IOException {
        if (remaining > 0 || padding > 0) {
            skipExactly(remaining + padding);
            remaining = 0;
            padding = 0;
        }
    }

    private void skipExactly(long n) throws IOException {
        in.skipNBytes(n);
    }

    private byte[] readFully(int n) throws IOException {
        byte[] data = in.readNBytes(n);
        if (data.length < n) {
            throw new EOFException("tar is truncated");
        }
        return data;
    }

    private static long pad(long size) {
        return (BLOCK - size % BLOCK) % BLOCK;
    }

    private static boolean isZero(byte[] block) {
        for (byte b : block) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    private static void checkChecksum(byte[] h) throws ImageException {
        long expected = number(h, 148, 8);
        long unsigned = 0;
        long signed = 0;
        for (int i = 0; i < BLOCK; i++) {
            int b = i >= 148 && i < 156 ? ' ' : h[i];
            unsigned += b & 0xff;
            signed += (byte) b;
        }
        if (expected != unsigned && expected != signed) {
            throw new ImageException("malformed tar: header checksum mismatch (not a tar archive?)");
        }
    }

    /** An octal field, or a GNU base-256 one (high bit of the first byte set). */
    static long number(byte[] h, int off, int len) throws ImageException {
        if ((h[off] & 0x80) != 0) {
            if ((h[off] & 0x40) != 0) {
                throw new ImageException("malformed tar: negative base-256 number");
            }
            long v = h[off] & 0x3f;
            for (int i = 1; i < len; i++) {
                if (v > (Long.MAX_VALUE >> 8)) {
                    throw new ImageException("malformed tar: number too large");
                }
                v = (v << 8) | (h[off + i] & 0xff);
            }
            return v;
        }
        long v = 0;
        int i = off;
        int end = off + len;
        while (i < end && (h[i] == ' ' || h[i] == 0)) {
            i++;
        }
        for (; i < end && h[i] != 0 && h[i] != ' '; i++) {
            if (h[i] < '0' || h[i] > '7' || v > (Long.MAX_VALUE >> 3)) {
                throw new ImageException("malformed tar: bad octal number");
            }
            v = (v << 3) | (h[i] - '0');
        }
        return v;
    }

    private static String cString(byte[] b, int off, int len) {
        int end = off;
        while (end < off + len && b[end] != 0) {
            end++;
        }
        return new String(b, off, end - off, StandardCharsets.UTF_8);
    }

    /** Records "LEN key=value\n", LEN counting the whole record. */
    private static void parsePax(byte[] data, Map<String, String> out) throws ImageException {
        int pos = 0;
        while (pos < data.length) {
            int space = pos;
            while (space < data.length && data[space] != ' ') {
                space++;
            }
            int len;
            try {
                len = Integer.parseInt(new String(data, pos, space - pos, StandardCharsets.US_ASCII));
            } catch (NumberFormatException e) {
                if (isZeroFrom(data, pos)) {
                    return;
                }
                throw new ImageException("malformed tar: bad pax record length");
            }
            if (len <= space - pos + 1 || pos + len > data.length || data[pos + len - 1] != '\n') {
                throw new ImageException("malformed tar: bad pax record");
            }
            String record = new String(data, space + 1, pos + len - space - 2, StandardCharsets.UTF_8);
            int eq = record.indexOf('=');
            if (eq <= 0) {
                throw new ImageException("malformed tar: bad pax record");
            }
            out.put(record.substring(0, eq), record.substring(eq + 1));
            pos += len;
        }
    }

    private static boolean isZeroFrom(byte[] data, int pos) {
        for (int i = pos; i < data.length; i++) {
            if (data[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
