package dev.kava.cli;

import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kava}: run containers in VMs, check the host, clean up, benchmark. */
@Command(name = "kava", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "A secure container runtime: every container in its own lightweight VM.",
        subcommands = {RunCommand.class, CheckCommand.class, EnvCommand.class, CleanupCommand.class, BenchCommand.class})
public final class Main {
    /** Exit status for errors of kava itself (as docker run uses it). */
    public static final int EXIT_KAVA_ERROR = 125;

    public static void main(String[] args) {
        Logs.configure(System.getenv("KAVA_DEBUG") != null ? Level.FINE : Level.WARNING);
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("kava: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            if (System.getenv("KAVA_DEBUG") != null) e.printStackTrace(cmd.getErr());
            return EXIT_KAVA_ERROR;
        });
        cl.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("kava: " + ex.getMessage());
            ex.getCommandLine().getErr().println("(kava " + ex.getCommandLine().getCommandName() + " --help shows the usage)");
            return EXIT_KAVA_ERROR;
        });
        // everything after IMAGE is the container's command, options included
        cl.getSubcommands().get("run").setStopAtPositional(true);
        int status = cl.execute(args);
        System.out.flush();
        System.exit(status);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"kava " + (v != null ? v : "0.1.0-SNAPSHOT")};
        }
    }

    static Logger log() {
        return Logger.getLogger("dev.kava.cli");
    }
}
