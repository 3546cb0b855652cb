package dev.kava.shim;

import dev.kava.api.containerd.task.DeleteResponse;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Entry point of {@code containerd-shim-kava-v2} for the actions that need a JVM: {@code serve} (the
 * daemon the launcher starts for {@code start}) and {@code delete} (containerd's clean-up after a shim it
 * can no longer reach).
 */
public final class ShimMain {
    private ShimMain() {}

    public static void main(String[] argv) {
        long entered = System.nanoTime();
        ShimArgs args;
        try {
            args = ShimArgs.parse(argv);
        } catch (IllegalArgumentException e) {
            System.err.println("containerd-shim-kava-v2: " + e.getMessage());
            System.exit(2);
            return;
        }
        switch (args.action()) {
            case "serve" -> serve(args, entered);
            case "delete" -> delete(args);
            case "spare" -> {
                if (args.socket() == null) {
                    System.err.println("containerd-shim-kava-v2: spare needs -socket");
                    System.exit(2);
                }
                try {
                    System.exit(SpareDaemon.run(args.socket()));
                } catch (IOException | RuntimeException e) {
                    System.err.println("containerd-shim-kava-v2: spare: " + e);
                    System.exit(1);
                } catch (InterruptedException e) {
                    System.exit(1);
                }
            }
            case "train" -> {
                try {
                    System.exit(ShimTraining.run());
                } catch (IOException | RuntimeException e) {
                    System.err.println("containerd-shim-kava-v2: training failed: " + e);
                    System.exit(1);
                }
            }
            case "start" -> {
                System.err.println("containerd-shim-kava-v2: `start` is answered by the launcher script (shim/bin/containerd-shim-kava-v2)");
                System.exit(2);
            }
            default -> {
                System.err.println("containerd-shim-kava-v2: unknown action " + args.action());
                System.exit(2);
            }
        }
    }

    private static void serve(ShimArgs args, long entered) {
        if (args.socket() == null) {
            System.err.println("containerd-shim-kava-v2: serve needs -socket");
            System.exit(2);
        }
        ServerSocketChannel listener;
        try {
            listener = bind(args.socket());
        } catch (IOException e) {
            System.err.println("containerd-shim-kava-v2: cannot listen on " + args.socket() + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        int status = new ShimDaemon(args, listener).run();
        System.exit(status);
    }

    /**
     * Binds and listens under a temporary name, then renames into place: the launcher waits for the
     * socket file, and from the moment it exists, connections queue in the backlog.
     */
    static ServerSocketChannel bind(Path socket) throws IOException {
        Path tmp = socket.resolveSibling("." + socket.getFileName() + "." + ProcessHandle.current().pid());
        Files.deleteIfExists(tmp);
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(tmp), 128);
            Files.move(tmp, socket, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(pidFile(socket), Long.toString(ProcessHandle.current().pid()));
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    static Path pidFile(Path socket) {
        String name = socket.getFileName().toString();
        return socket.resolveSibling(name.replaceFirst("\\.sock$", "") + ".pid");
    }

    private static void delete(ShimArgs args) {
        PrintStream out = System.out;
        System.setOut(System.err);  // only the marshalled answer goes to stdout
        DeleteResponse r = ShimDelete.run(args);
        try {
            r.writeTo(out);
            out.flush();
        } catch (IOException e) {
            System.exit(1);
        }
        System.exit(0);
    }
}
