package dev.kava.shim.mgmt;

import static org.junit.jupiter.api.Assertions.*;

import dev.kava.runtime.sandbox.VirtSandbox;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManagementServerTest {
    @TempDir
    Path tmp;

    private static final ManagementServer.Source NO_VM = new ManagementServer.Source() {
        @Override
        public VirtSandbox runningSandbox() {
            return null;
        }

        @Override
        public int containerCount() {
            return 2;
        }

        @Override
        public String sandboxId() {
            return "ns--pod";
        }
    };

    private static String request(Path sock, String raw) throws IOException {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(sock));
            c.write(ByteBuffer.wrap(raw.getBytes(StandardCharsets.ISO_8859_1)));
            c.shutdownOutput();
            ByteBuffer b = ByteBuffer.allocate(1 << 16);
            while (c.read(b) > 0) {
                // until the server closes
            }
            return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void metricsAgentUrlAndErrors() throws IOException {
        Path sock = tmp.resolve("mgmt.sock");
        try (ManagementServer s = ManagementServer.start(sock, NO_VM)) {
            String m = request(sock, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            assertTrue(m.startsWith("HTTP/1.1 200 OK\r\n"), m);
            assertTrue(m.contains("# TYPE kava_shim_rss_bytes gauge"), m);
            assertTrue(m.contains("kava_sandbox_containers{sandbox=\"ns--pod\"} 2"), m);
            long rss = Long.parseLong(m.lines().filter(l -> l.startsWith("kava_shim_rss_bytes")).findFirst().orElseThrow()
                    .split(" ")[1]);
            assertTrue(rss > 1 << 20, "this JVM's resident memory: " + rss);
            assertTrue(request(sock, "GET /agent-url HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 503"), "no VM yet");
            assertTrue(request(sock, "GET /nope HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 404"));
            assertTrue(request(sock, "POST /metrics HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 405"));
            assertEquals("", request(sock, "x".repeat(5000)), "an endless request line is dropped");
            assertTrue(request(sock, "\r\n\r\n").startsWith("HTTP/1.1 400"));
            assertTrue(request(sock, "GET /metrics HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 200"), "still serving");
        }
        assertFalse(Files.exists(sock), "close removes the socket");
    }
}
