package dev.kava.vmm.legacy;

import dev.kava.linux.Epoll;
import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.UnixSocket;
import dev.kava.virtio.device.EventRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Where the serial console's bytes go and come from on the host: a log file (output only) and/or a
 * unix socket that one client at a time connects to for live output and input.
 *
 * <p>Output is never allowed to stall the guest's vCPU on the host's behalf: the log is a regular
 * file, and the socket client is written non-blocking, its excess dropped. Input from the client is
 * read only while the UART's receive FIFO has room (the rest waits in the socket), on the device
 * event loop.
 */
public final class SerialConsoleBackend extends OutputStream implements AutoCloseable {
    private final OutputStream log;
    private final UnixSocket listener;
    private final Path socketPath;
    private final byte[] buffer = new byte[Serial16550.FIFO_SIZE];
    private EventRegistry events;
    private Serial16550 serial;
    private volatile UnixSocket client;
    private boolean inputPaused;

    /** Opens the log (appending) and binds the socket, either may be null. */
    public SerialConsoleBackend(Path log, Path socket) throws IOException {
        this.log = log == null ? null : Files.newOutputStream(log, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                StandardOpenOption.WRITE);
        this.socketPath = socket;
        try {
            this.listener = socket == null ? null : UnixSocket.listen(socket, 1);
            if (listener != null) {
                listener.fd().setNonBlocking(true);
            }
        } catch (LinuxException e) {
            if (this.log != null) {
                this.log.close();
            }
            throw new IOException("serial console socket " + socket + ": " + e.getMessage(), e);
        }
    }

    /** Starts accepting clients on {@code events} and feeding their input to {@code serial}. */
    public synchronized void attach(Serial16550 serial, EventRegistry events) {
        this.serial = serial;
        this.events = events;
        serial.onReceiveRoom(this::resumeInput);
        if (listener != null) {
            events.add(listener.fd(), Epoll.EPOLLIN, ev -> accept());
        }
    }

    private synchronized void accept() {
        UnixSocket s;
        try {
            s = listener.accept();
        } catch (ErrnoException e) {
            return;
        }
        if (client != null) {
            s.close(); // one console client at a time
            return;
        }
        s.fd().setNonBlocking(true);
        client = s;
        inputPaused = false;
        events.add(s.fd(), Epoll.EPOLLIN, ev -> input());
    }

    private synchronized void input() {
        UnixSocket c = client;
        if (c == null) {
            return;
        }
        int room = serial.receiveRoom();
        if (room == 0) {
            inputPaused = true;
            events.modify(c.fd(), 0);
            return;
        }
        int n;
        try {
            n = c.fd().read(buffer, 0, room);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EAGAIN) {
                return;
            }
            n = -1;
        }
        if (n < 0) {
            dropClient();
            return;
        }
        serial.receive(buffer, 0, n);
    }

    private synchronized void resumeInput() {
        if (inputPaused && client != null) {
            inputPaused = false;
            events.modify(client.fd(), Epoll.EPOLLIN);
        }
    }

    private void dropClient() {
        UnixSocket c = client;
        client = null;
        if (c != null) {
            events.remove(c.fd());
            c.close();
        }
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        if (log != null) {
            log.write(b, off, len);
        }
        UnixSocket c = client;
        if (c != null) {
            try {
                c.send(b, off, len);
            } catch (ErrnoException e) {
                if (e.errno() != Errno.EAGAIN) {
                    synchronized (this) {
                        if (client == c) {
                            dropClient();
                        }
                    }
                }
                // EAGAIN: the client does not keep up; its share of the output is dropped
            }
        }
    }

    @Override
    public void flush() throws IOException {
        if (log != null) {
            log.flush();
        }
    }

    @Override
    public synchronized void close() throws IOException {
        if (events != null) {
            if (listener != null) {
                events.remove(listener.fd());
            }
            dropClient();
        }
        if (listener != null) {
            listener.close();
            Files.deleteIfExists(socketPath);
        }
        if (log != null) {
            log.close();
        }
    }

    /** The listening socket's descriptor, for tests. */
    Fd listenerFd() {
        return listener == null ? null : listener.fd();
    }
}
