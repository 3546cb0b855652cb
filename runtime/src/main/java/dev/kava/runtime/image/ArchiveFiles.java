package dev.kava.runtime.image;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The files of an image on disk, by their slash-separated names: either a directory or a tar (read in
 * place through an index of entry offsets, so nothing is copied). Names come from untrusted manifests;
 * they are cleaned so they cannot leave the directory or the archive.
 */
sealed interface ArchiveFiles {
    /** Opens a file; {@link NoSuchFileException} if the archive has no such file. */
    InputStream open(String name) throws IOException, ImageException;

    boolean exists(String name) throws IOException;

    static String clean(String name) {
        return String.join("/", RootedTree.clean(name));
    }

    /** An OCI layout or unpacked docker archive in a directory. */
    record Directory(Path dir) implements ArchiveFiles {
        @Override
        public InputStream open(String name) throws IOException {
            return Files.newInputStream(resolve(name), LinkOption.NOFOLLOW_LINKS);
        }

        @Override
        public boolean exists(String name) {
            return Files.isRegularFile(resolve(name), LinkOption.NOFOLLOW_LINKS);
        }

        private Path resolve(String name) {
            Path p = dir;
            for (String c : RootedTree.clean(name)) {
                p = p.resolve(c);
            }
            return p;
        }
    }

    /** A tar archive, indexed once by reading its headers and seeking over the data. */
    final class Tar implements ArchiveFiles {
        private record Member(long offset, long size, String link) { }

        private final Path file;
        private final Map<String, Member> members = new HashMap<>();

        Tar(Path file) throws IOException, ImageException {
            this.file = file;
            try (CountingInputStream counting = new CountingInputStream(Files.newInputStream(file))) {
                TarReader reader = new TarReader(counting);
                TarReader.Entry e;
                while ((e = reader.next()) != null) {
                    String name = clean(e.name());
                    switch (e.type()) {
                        case FILE -> members.put(name, new Member(counting.count, e.size(), null));
                        case SYMLINK -> members.put(name, new Member(0, 0,
                                e.linkName().startsWith("/") ? e.linkName() : parentOf(name) + e.linkName()));
                        case HARDLINK -> members.put(name, new Member(0, 0, "/" + e.linkName()));
                        default -> { }
                    }
                }
            }
        }

        private static String parentOf(String name) {
            int slash = name.lastIndexOf('/');
            return slash < 0 ? "" : name.substring(0, slash + 1);
        }

        private Member member(String name) throws NoSuchFileException {
            String key = clean(name);
            for (int hops = 0; hops < 8; hops++) {
                Member m = members.get(key);
                if (m == null) {
                    break;
                }
                if (m.link() == null) {
                    return m;
                }
                key = clean(m.link());  // docker save links identical layers to each other
            }
            throw new NoSuchFileException(file + "!" + name);
        }

        @Override
        public InputStream open(String name) throws IOException {
            Member m = member(name);
            InputStream in = Files.newInputStream(file);
            try {
                in.skipNBytes(m.offset());
            } catch (IOException e) {
                in.close();
                throw e;
            }
            return new FilterInputStream(in) {
                private long left = m.size();

                @Override
                public int read() throws IOException {
                    if (left <= 0) {
                        return -1;
                    }
                    int b = super.read();
                    if (b >= 0) {
                        left--;
                    }
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (left <= 0) {
                        return -1;
                    }
                    int n = super.read(b, off, (int) Math.min(len, left));
                    if (n > 0) {
                        left -= n;
                    }
                    return n;
                }

                @Override
                public long skip(long n) throws IOException {
                    long skipped = super.skip(Math.min(n, left));
                    left -= skipped;
                    return skipped;
                }

                @Override
                public int available() throws IOException {
                    return (int) Math.min(super.available(), left);
                }
            };
        }

        @Override
        public boolean exists(String name) {
            try {
                member(name);
                return true;
            } catch (NoSuchFileException e) {
                return false;
            }
        }

        List<String> names() {
            return List.copyOf(members.keySet());
        }
    }

    /** Counts bytes read and skipped, so the tar index knows where each member's data starts. */
    final class CountingInputStream extends FilterInputStream {
        long count;

        CountingInputStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = super.skip(n);
            count += skipped;
            return skipped;
        }
    }
}
