package dev.kava.shim;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line containerd gives a runtime v2 shim ({@code -namespace NS -address ADDR
 * -publish-binary BIN -id ID [-bundle DIR] [-debug] ACTION}), plus the flags the launcher adds for
 * the serving daemon ({@code -socket PATH -key KEY}).
 */
public record ShimArgs(String namespace, String address, String publishBinary, String id, Path bundle,
        boolean debug, Path socket, String key, String action) {

    public static ShimArgs parse(String[] argv) {
        String ns = "", address = "", publish = "", id = "", bundle = null, socket = null, key = "";
        boolean debug = false;
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            String flag = a.startsWith("--") ? a.substring(1) : a;
            String value = null;
            int eq = flag.indexOf('=');
            if (flag.startsWith("-") && eq > 0) {
                value = flag.substring(eq + 1);
                flag = flag.substring(0, eq);
            }
            switch (flag) {
                case "-debug" -> debug = value == null || Boolean.parseBoolean(value);
                case "-namespace", "-address", "-publish-binary", "-id", "-bundle", "-socket", "-key" -> {
                    if (value == null) {
                        if (i + 1 >= argv.length) throw new IllegalArgumentException("flag " + a + " needs a value");
                        value = argv[++i];
                    }
                    switch (flag) {
                        case "-namespace" -> ns = value;
                        case "-address" -> address = value;
                        case "-publish-binary" -> publish = value;
                        case "-id" -> id = value;
                        case "-bundle" -> bundle = value;
                        case "-socket" -> socket = value;
                        default -> key = value;
                    }
                }
                default -> {
                    if (a.startsWith("-")) {
                        // containerd may add flags in later versions: ignore unknown boolean flags
                        continue;
                    }
                    rest.add(a);
                }
            }
        }
        if (rest.size() != 1) {
            throw new IllegalArgumentException("expected one action (start, delete or serve), got " + rest);
        }
        Path bundleDir = bundle != null ? Path.of(bundle) : Path.of("").toAbsolutePath();
        return new ShimArgs(ns, address, publish, id, bundleDir, debug, socket != null ? Path.of(socket) : null,
                key.isEmpty() ? id : key, rest.getFirst());
    }
}
