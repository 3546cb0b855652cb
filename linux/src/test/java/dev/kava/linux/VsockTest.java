package dev.kava.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class VsockTest {
    private static void assumeVsock() {
        if (!Vsock.isAvailable()) {
            System.out.println("vsock unavailable: " + Vsock.unavailabilityCause());
        }
        Assumptions.assumeTrue(Vsock.isAvailable(), () -> "vsock unavailable: " + Vsock.unavailabilityCause());
    }

    @Test
    void availabilityHasACauseExactlyWhenUnavailable() {
        assertEquals(!Vsock.isAvailable(), Vsock.unavailabilityCause() != null);
    }

    @Test
    void listenOnAnyCidAndAnyPortWorks() {
        assumeVsock();
        try (Fd listener = Vsock.listen(Vsock.VMADDR_CID_ANY, Vsock.VMADDR_PORT_ANY, 1)) {
            assertTrue(listener.isOpen());
        }
    }

    @Test
    void localCidIsAConcreteAddress() {
        assumeVsock();
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/vsock")), "no /dev/vsock");
        int cid = Vsock.localCid();
        System.out.println("local vsock CID: " + Integer.toUnsignedString(cid));
        assertTrue(cid != Vsock.VMADDR_CID_ANY);
    }

    @Test
    void loopbackConnectionCarriesBytes() throws Exception {
        assumeVsock();
        int port = 20000 + (int) (ProcessHandle.current().pid() % 20000);
        Fd listener;
        try {
            listener = Vsock.listen(Vsock.VMADDR_CID_LOCAL, port, 1);
        } catch (ErrnoException e) {
            System.out.println("vsock loopback unavailable (needs vsock_loopback): " + e.getMessage());
            Assumptions.abort("vsock loopback unavailable (needs vsock_loopback): " + e.getMessage());
            return;
        }
        try (listener) {
            CompletableFuture<Fd> accepted = new CompletableFuture<>();
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    accepted.complete(Vsock.accept(listener));
                } catch (Throwable t) {
                    accepted.completeExceptionally(t);
                }
            });
            try (Fd client = Vsock.connect(Vsock.VMADDR_CID_LOCAL, port);
                 Fd server = accepted.get(10, TimeUnit.SECONDS)) {
                client.writeFully(new byte[] {1, 2, 3}, 0, 3);
                byte[] buf = new byte[3];
                int n = 0;
                while (n < 3) {
                    n += server.read(buf, n, 3 - n);
                }
                assertEquals(3, buf[2]);
            }
        }
    }
}
