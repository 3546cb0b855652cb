package dev.kava.linux;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Signal numbers of Linux on x86-64, {@code signal(7)}, with names for parsing and printing. */
public final class Signals {
    public static final int SIGHUP = 1;
    public static final int SIGINT = 2;
    public static final int SIGQUIT = 3;
    public static final int SIGILL = 4;
    public static final int SIGTRAP = 5;
    public static final int SIGABRT = 6;
    public static final int SIGBUS = 7;
    public static final int SIGFPE = 8;
    public static final int SIGKILL = 9;
    public static final int SIGUSR1 = 10;
    public static final int SIGSEGV = 11;
    public static final int SIGUSR2 = 12;
    public static final int SIGPIPE = 13;
    public static final int SIGALRM = 14;
    public static final int SIGTERM = 15;
    public static final int SIGSTKFLT = 16;
    public static final int SIGCHLD = 17;
    public static final int SIGCONT = 18;
    public static final int SIGSTOP = 19;
    public static final int SIGTSTP = 20;
    public static final int SIGTTIN = 21;
    public static final int SIGTTOU = 22;
    public static final int SIGURG = 23;
    public static final int SIGXCPU = 24;
    public static final int SIGXFSZ = 25;
    public static final int SIGVTALRM = 26;
    public static final int SIGPROF = 27;
    public static final int SIGWINCH = 28;
    public static final int SIGIO = 29;
    public static final int SIGPWR = 30;
    public static final int SIGSYS = 31;
    /** The highest signal number the kernel accepts (real-time signals end here). */
    public static final int MAX = 64;

    private static final String[] NAMES = {
        null, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
        "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
        "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
        "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    };
    private static final Map<String, Integer> BY_NAME = new TreeMap<>();

    static {
        for (int i = 1; i < NAMES.length; i++) {
            BY_NAME.put(NAMES[i], i);
        }
        BY_NAME.put("SIGIOT", SIGABRT);
        BY_NAME.put("SIGPOLL", SIGIO);
        BY_NAME.put("SIGCLD", SIGCHLD);
    }

    private Signals() {}

    /**
     * Parses a signal as {@code kill(1)} would take it: a name with or without the {@code SIG}
     * prefix, any case ("TERM", "SIGTERM", "term"), or a number 1..64 ("15").
     *
     * @throws IllegalArgumentException for anything else, naming the accepted forms
     */
    public static int parse(String s) {
        if (s == null || s.isBlank()) {
            throw new IllegalArgumentException("no signal given: expected a name like TERM or SIGTERM, or a number 1.." + MAX);
        }
        String t = s.trim().toUpperCase(Locale.ROOT);
        if (t.chars().allMatch(Character::isDigit)) {
            int n;
            try {
                n = Integer.parseInt(t);
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 1 || n > MAX) {
                throw new IllegalArgumentException("signal number out of range 1.." + MAX + ": " + s);
            }
            return n;
        }
        Integer n = BY_NAME.get(t.startsWith("SIG") ? t : "SIG" + t);
        if (n == null) {
            throw new IllegalArgumentException("unknown signal: \"" + s
                    + "\" (expected a name like TERM or SIGTERM, or a number 1.." + MAX + ")");
        }
        return n;
    }

    /**
     * The name of a signal, e.g. {@code "SIGTERM"}; for a number without a name (real-time
     * signals), the number itself, so that {@link #parse} always reads back what this returns.
     */
    public static String name(int signal) {
        return signal > 0 && signal < NAMES.length ? NAMES[signal] : Integer.toString(signal);
    }
}
