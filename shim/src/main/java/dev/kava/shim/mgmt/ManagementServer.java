package dev.kava.shim.mgmt;

import dev.kava.runtime.sandbox.SandboxFigures;
import dev.kava.runtime.sandbox.VirtSandbox;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * The pod's management socket, {@code /run/kava/<sandbox>/shim-mgmt.sock}: HTTP/1.1 over a unix socket,
 * read-only. {@code GET /metrics} answers Prometheus text (shim process, VM process, guest memory,
 * containers); {@code GET /agent-url} the address of the guest agent. One request per connection.
 */
public final class ManagementServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ManagementServer.class.getName());
    private static final int MAX_REQUEST_LINE = 1024;

    /** What the server reports on. */
    public interface Source {
        VirtSandbox runningSandbox();

        int containerCount();

        String sandboxId();
    }

    private final ServerSocketChannel channel;
    private final Path path;
    private final Source source;

    private ManagementServer(ServerSocketChannel channel, Path path, Source source) {
        this.channel = channel;
        this.path = path;
        this.source = source;
    }

    public static ManagementServer start(Path path, Source source) throws IOException {
        Files.deleteIfExists(path);
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        ch.bind(UnixDomainSocketAddress.of(path));
        ManagementServer s = new ManagementServer(ch, path, source);
        Thread.ofVirtual().name("shim-mgmt").start(s::acceptLoop);
        return s;
    }

    private void acceptLoop() {
        while (channel.isOpen()) {
            try {
                SocketChannel c = channel.accept();
                Thread.ofVirtual().name("shim-mgmt-conn").start(() -> handle(c));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void handle(SocketChannel c) {
        try (c; var in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c), StandardCharsets.ISO_8859_1));
             OutputStream out = Channels.newOutputStream(c)) {
            String line = readLine(in);
            if (line == null) return;
            for (String h; (h = readLine(in)) != null && !h.isEmpty(); ) {
                // headers are not used
            }
            String[] parts = line.split(" ");
            if (parts.length < 2) {
                respond(out, 400, "text/plain", "bad request\n");
            } else if (!parts[0].equals("GET")) {
                respond(out, 405, "text/plain", "only GET\n");
            } else {
                switch (parts[1]) {
                    case "/metrics" -> respond(out, 200, "text/plain; version=0.0.4", metrics());
                    case "/agent-url" -> {
                        VirtSandbox s = source.runningSandbox();
                        respond(out, s != null ? 200 : 503, "text/plain", s != null ? s.agentUrl() + "\n" : "no VM\n");
                    }
                    default -> respond(out, 404, "text/plain", "not found: " + parts[1] + " (try /metrics or /agent-url)\n");
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.fine("management request: " + e.getMessage());
        }
    }

    private static String readLine(BufferedReader in) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int ch; (ch = in.read()) >= 0; ) {
            if (ch == '\n') return b.toString().stripTrailing();
            if (b.length() >= MAX_REQUEST_LINE) throw new IOException("request line too long");
            b.append((char) ch);
        }
        return b.isEmpty() ? null : b.toString();
    }

    String metrics() {
        StringBuilder m = new StringBuilder();
        long self = ProcessHandle.current().pid();
        String label = "{sandbox=\"" + source.sandboxId() + "\"}";
        VirtSandbox s = source.runningSandbox();
        SandboxFigures f = s != null ? s.figures() : null;
        gauge(m, "kava_shim_rss_bytes", "Resident memory of the shim process.", label, rssKiB(self) * 1024);
        gauge(m, "kava_shim_threads", "Threads of the shim process.", label, count("/proc/self/task"));
        gauge(m, "kava_shim_open_fds", "Open file descriptors of the shim process.", label, count("/proc/self/fd"));
        gauge(m, "kava_shim_heap_used_bytes", "Java heap in use in the shim.", label,
                Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory());
        gauge(m, "kava_sandbox_containers", "Containers in the pod.", label, source.containerCount());
        if (f != null) {
            gauge(m, "kava_vm_pid", "Pid of the hypervisor process.", label, f.vmPid());
            gauge(m, "kava_vm_rss_bytes", "Resident memory of the hypervisor process.", label, f.vmRssKiB() * 1024);
            gauge(m, "kava_guest_memory_total_bytes", "Memory the guest kernel manages.", label, f.guestTotalKiB() * 1024);
            gauge(m, "kava_guest_memory_used_bytes", "Guest memory in use (total - free).", label, f.guestUsedKiB() * 1024);
        }
        return m.toString();
    }

    private static void gauge(StringBuilder m, String name, String help, String label, long value) {
        m.append("# HELP ").append(name).append(' ').append(help).append('\n');
        m.append("# TYPE ").append(name).append(" gauge\n");
        m.append(name).append(label).append(' ').append(value).append('\n');
    }

    private static long rssKiB(long pid) {
        return dev.kava.runtime.sandbox.ProcStatus.rssKiB(pid);
    }

    private static long count(String dir) {
        try (var s = Files.list(Path.of(dir))) {
            return s.count();
        } catch (IOException e) {
            return 0;
        }
    }

    private static void respond(OutputStream out, int code, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String reason = switch (code) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            default -> "Service Unavailable";
        };
        out.write(("HTTP/1.1 " + code + " " + reason + "\r\nContent-Type: " + type + "\r\nContent-Length: " + b.length
                + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.write(b);
        out.flush();
    }

    @Override
    public void close() {
        try {
            channel.close();
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.fine("closing " + path + ": " + e.getMessage());
        }
    }
}
