package dev.kava.hypervisor.qemu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a virtio-fs share may leave in this process after its VM is gone, for the tests that run
 * one: descriptors (of the test's directory, memfds, sockets, eventfds, epoll instances), memfd
 * mappings, the backend's and workers' threads, and socket files in the sandbox state directory.
 */
final class ShareLeftovers {
    private ShareLeftovers() {}

    /** This process's descriptors now, as "N -> target". */
    static List<String> descriptors() throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    out.add(p.getFileName() + " -> " + Files.readSymbolicLink(p));
                } catch (IOException gone) {
                    // the listing's own descriptor
                }
            }
        }
        return out;
    }

    /**
     * The JDK's virtual-thread pollers (epoll instances) start on the first blocking socket read
     * of a virtual thread, which the serial connection makes: start them before counting.
     */
    static void warmUpJdkPollers(Path dir) throws Exception {
        Path sock = dir.resolve("warm-up.sock");
        var address = java.net.UnixDomainSocketAddress.of(sock);
        try (var server = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX).bind(address);
             var client = java.nio.channels.SocketChannel.open(address);
             var accepted = server.accept()) {
            Thread reader = Thread.ofVirtual().start(() -> {
                try {
                    accepted.read(ByteBuffer.allocate(1));
                } catch (IOException e) {
                    // the test goes on without it
                }
            });
            Thread.sleep(50);
            client.write(ByteBuffer.wrap(new byte[] {1}));
            reader.join(2000);
        } finally {
            Files.deleteIfExists(sock);
        }
    }

    /**
     * What is left compared with {@code fdsBefore}, waiting up to 3 s (a closed channel's
     * descriptor is released once its reader thread has noticed); empty when nothing is.
     */
    static List<String> after(List<String> fdsBefore, Path state, Path testDir) throws Exception {
        List<String> left = List.of();
        for (int i = 0; i < 30; i++) {
            left = now(fdsBefore, state, testDir);
            if (left.isEmpty()) break;
            Thread.sleep(100);
        }
        return left;
    }

    private static List<String> now(List<String> fdsBefore, Path state, Path testDir) throws IOException {
        List<String> left = new ArrayList<>();
        for (String fd : descriptors()) {
            if (!fdsBefore.contains(fd) && !fd.matches(".* -> /proc/\\d+/fd") && (fd.contains(testDir.toString()) || fd.contains("memfd")
                    || fd.contains("socket") || fd.contains("eventfd") || fd.contains("eventpoll"))) {
                left.add("descriptor " + fd);
            }
        }
        for (String m : Files.readAllLines(Path.of("/proc/self/maps"))) {
            if (m.contains("memfd:")) left.add("mapping " + m);
        }
        Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .filter(t -> t.getName().startsWith("vhost-user ") || t.getName().startsWith("virtio-fs "))
                .forEach(t -> left.add("thread " + t.getName()));
        if (Files.isDirectory(state)) {
            try (Stream<Path> s = Files.list(state)) {
                s.filter(p -> p.getFileName().toString().endsWith(".sock")).forEach(p -> left.add("socket " + p));
            }
        }
        return left;
    }
}
