package dev.kava.agent.stream;

import dev.kava.linux.Fd;
import dev.kava.linux.Pipe;
import dev.kava.linux.Terminal;
import java.io.File;

/**
 * The stdio of one container process, from the agent's side.
 *
 * <p>Pipes: three OS pipes whose child ends are handed to a child (crun) through ProcessBuilder
 * redirects to {@code /proc/self/fd/N}: Java opens that path, which yields the same pipe, and
 * the JDK keeps no pipe of its own, so nothing is closed or drained when crun exits while the
 * container keeps the descriptors. After the spawn the agent closes its copies of the child
 * ends, so EOF arrives when the last process holding them exits.
 *
 * <p>Terminal: the pty master is stdin and stdout; stderr is at EOF from the start.
 */
public final class ProcessStdio implements AutoCloseable {
    /** Buffered output per stream before the container blocks on write. */
    public static final int BUFFER_BYTES = 256 * 1024;

    private final String name;
    private final StdinSink stdin;
    private final OutputBuffer stdout;
    private final OutputBuffer stderr;
    private final Fd terminal;
    private Fd childIn;
    private Fd childOut;
    private Fd childErr;
    private Fd outRead;
    private Fd errRead;

    private ProcessStdio(String name, StdinSink stdin, OutputBuffer stdout, OutputBuffer stderr, Fd terminal) {
        this.name = name;
        this.stdin = stdin;
        this.stdout = stdout;
        this.stderr = stderr;
        this.terminal = terminal;
    }

    /** Three new pipes; call {@link #redirect} before the spawn and {@link #started} after. */
    public static ProcessStdio pipes(String name) {
        Pipe in = Pipe.open();
        Pipe out = null;
        try {
            out = Pipe.open();
            Pipe err = Pipe.open();
            ProcessStdio s = new ProcessStdio(name, new StdinSink(in.writeEnd(), false),
                    new OutputBuffer(BUFFER_BYTES), new OutputBuffer(BUFFER_BYTES), null);
            s.childIn = in.readEnd();
            s.childOut = out.writeEnd();
            s.childErr = err.writeEnd();
            s.outRead = out.readEnd();
            s.errRead = err.readEnd();
            return s;
        } catch (RuntimeException e) {
            in.close();
            if (out != null) {
                out.close();
            }
            throw e;
        }
    }

    /**
     * The stdio of a process on a terminal: takes ownership of the pty master and starts its
     * pump.
     */
    public static ProcessStdio terminal(Fd master, String name) {
        Fd forStdin = master.dup();
        Fd forPump = master.dup();
        ProcessStdio s = new ProcessStdio(name, new StdinSink(forStdin, true),
                new OutputBuffer(BUFFER_BYTES), OutputBuffer.empty(), master);
        OutputPump.start(forPump, s.stdout, name + "-tty");
        return s;
    }

    /** Points the child's stdin, stdout and stderr at the child ends of the pipes. */
    public void redirect(ProcessBuilder pb) {
        pb.redirectInput(procFd(childIn));
        pb.redirectOutput(procFd(childOut));
        pb.redirectError(procFd(childErr));
    }

    /** After a spawn: closes the agent's copies of the child ends and starts the pumps. */
    public void started() {
        closeChildEnds();
        if (outRead != null) {
            OutputPump.start(outRead, stdout, name + "-out");
            OutputPump.start(errRead, stderr, name + "-err");
            outRead = null;
            errRead = null;
        }
    }

    private void closeChildEnds() {
        for (Fd fd : new Fd[] {childIn, childOut, childErr}) {
            if (fd != null) {
                fd.close();
            }
        }
        childIn = childOut = childErr = null;
    }

    private static File procFd(Fd fd) {
        return new File("/proc/self/fd/" + fd.value());
    }

    public StdinSink stdin() {
        return stdin;
    }

    public OutputBuffer stdout() {
        return stdout;
    }

    public OutputBuffer stderr() {
        return stderr;
    }

    public boolean isTerminal() {
        return terminal != null;
    }

    /** TIOCSWINSZ on the pty master; false when this process has no terminal. */
    public boolean resize(int rows, int cols) {
        if (terminal == null) {
            return false;
        }
        Terminal.setWindowSize(terminal.value(), rows, cols);
        return true;
    }

    /** Releases everything: descriptors, buffered output (blocked pumps wake and exit). */
    @Override
    public void close() {
        closeChildEnds();
        if (outRead != null) {
            outRead.close();
            errRead.close();
        }
        stdin.release();
        stdout.discard();
        stderr.discard();
        if (terminal != null) {
            terminal.close();
        }
    }
}
