package dev.kava.agent;

import java.nio.file.Path;
import java.util.logging.Level;

/**
 * The command line of {@link AgentMain}; every flag has the guest's default.
 *
 * @param serialPortName virtio-serial port name to serve on ({@code --serial-port-name}, agent.0)
 * @param vsockPort      AF_VSOCK port to listen on, 0 for none ({@code --vsock-port}, 1024)
 * @param crun           crun binary ({@code --crun}, /usr/bin/crun)
 * @param sharedDir      where the host's shared filesystem is ({@code --shared-dir}, /run/kava/shared)
 * @param stateDir       bundles and CopyFile's tree ({@code --state-dir}, /run/kava)
 * @param mounts         mount devpts, shm, cgroup2 at start ({@code --no-mounts} turns it off)
 * @param listenUnix     serve on this unix socket instead of serial/vsock ({@code --listen-unix})
 * @param train          run a representative session in-process and exit ({@code --train})
 * @param logLevel       {@code --log-level} (INFO), e.g. FINE for debugging
 */
public record AgentOptions(String serialPortName, int vsockPort, Path crun, Path sharedDir, Path stateDir,
        boolean mounts, Path listenUnix, boolean train, Level logLevel) {

    public static final String USAGE = """
            usage: AgentMain [--serial-port-name agent.0] [--vsock-port 1024] [--crun /usr/bin/crun]
                             [--shared-dir /run/kava/shared] [--state-dir /run/kava] [--no-mounts]
                             [--listen-unix PATH] [--train] [--log-level INFO]""";

    public static AgentOptions defaults() {
        return new AgentOptions("agent.0", 1024, Path.of("/usr/bin/crun"), Path.of("/run/kava/shared"),
                Path.of("/run/kava"), true, null, false, Level.INFO);
    }

    /** Parses flags ({@code --flag value} or {@code --flag=value}); IllegalArgumentException if wrong. */
    public static AgentOptions parse(String... args) {
        AgentOptions o = defaults();
        String serial = o.serialPortName;
        int vsock = o.vsockPort;
        Path crun = o.crun;
        Path shared = o.sharedDir;
        Path state = o.stateDir;
        boolean mounts = true;
        Path unix = null;
        boolean train = false;
        Level level = o.logLevel;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                value = a.substring(eq + 1);
                a = a.substring(0, eq);
            }
            switch (a) {
                case "--no-mounts" -> mounts = false;
                case "--train" -> train = true;
                case "--serial-port-name", "--vsock-port", "--crun", "--shared-dir", "--state-dir",
                        "--listen-unix", "--log-level" -> {
                    if (value == null) {
                        if (i + 1 >= args.length) {
                            throw new IllegalArgumentException(a + " needs a value");
                        }
                        value = args[++i];
                    }
                    switch (a) {
                        case "--serial-port-name" -> serial = value;
                        case "--vsock-port" -> {
                            try {
                                vsock = Integer.parseInt(value);
                            } catch (NumberFormatException e) {
                                throw new IllegalArgumentException("--vsock-port: not a number: " + value);
                            }
                        }
                        case "--crun" -> crun = Path.of(value);
                        case "--shared-dir" -> shared = Path.of(value);
                        case "--state-dir" -> state = Path.of(value);
                        case "--listen-unix" -> unix = Path.of(value);
                        default -> level = Level.parse(value.toUpperCase());
                    }
                }
                default -> throw new IllegalArgumentException("unknown flag " + args[i]);
            }
        }
        return new AgentOptions(serial, vsock, crun, shared, state, mounts, unix, train, level);
    }

    public AgentConfig config() {
        return AgentConfig.of(crun, stateDir, sharedDir);
    }
}
