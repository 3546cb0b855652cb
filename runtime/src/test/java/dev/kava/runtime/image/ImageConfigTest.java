package dev.kava.runtime.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonParser;
import java.util.List;
import org.junit.jupiter.api.Test;

class ImageConfigTest {
    private static ImageConfig config(List<String> entrypoint, List<String> cmd) {
        return new ImageConfig(entrypoint, cmd, List.of(), "/", "");
    }

    @Test
    void userArgumentsReplaceCmdAndFollowTheEntrypoint() {
        ImageConfig c = config(List.of("/entry", "--flag"), List.of("default", "args"));
        assertEquals(List.of("/entry", "--flag", "default", "args"), c.command(List.of()));
        assertEquals(List.of("/entry", "--flag", "mine"), c.command(List.of("mine")));
    }

    @Test
    void withoutEntrypointTheCommandIsCmdOrTheUserArguments() {
        ImageConfig c = config(List.of(), List.of("sh"));
        assertEquals(List.of("sh"), c.command(List.of()));
        assertEquals(List.of("echo", "hi"), c.command(List.of("echo", "hi")));
        assertEquals(List.of("sh"), c.command(null));
    }

    @Test
    void missingFieldsGetDockerDefaults() throws Exception {
        ImageConfig c = ImageConfig.fromImageConfigJson(JsonParser.parseString("{\"config\":{\"Cmd\":null}}").getAsJsonObject());
        assertEquals(new ImageConfig(List.of(), List.of(), List.of(), "/", ""), c);
        assertEquals(c, ImageConfig.fromImageConfigJson(JsonParser.parseString("{}").getAsJsonObject()));
    }

    @Test
    void roundTripsThroughImageConfigJson() throws Exception {
        ImageConfig c = new ImageConfig(List.of("e"), List.of("c"), List.of("A=1"), "/w", "1:2");
        assertEquals(c, ImageConfig.fromImageConfigJson(c.toImageConfigJson()));
    }
}
