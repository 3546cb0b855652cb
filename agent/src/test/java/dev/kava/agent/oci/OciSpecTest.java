package dev.kava.agent.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OciSpecTest {
    @TempDir
    Path shared;

    private static byte[] spec(String root, String process) {
        return ("{\"ociVersion\":\"1.0.2\",\"process\":" + process + ",\"root\":{\"path\":\"" + root + "\"}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    private static final String PROCESS = "{\"args\":[\"sh\",\"-c\",\"true\"],\"cwd\":\"/\"}";

    private static TtrpcException invalid(byte[] json, Path shared) {
        TtrpcException e = assertThrows(TtrpcException.class, () -> OciSpec.parse(json).resolveRoot(shared));
        assertEquals(Code.INVALID_ARGUMENT, e.code(), e.toString());
        return e;
    }

    @Test
    void resolves_a_relative_root_path_under_the_shared_directory_and_defaults_the_cgroup() throws Exception {
        Path rootfs = Files.createDirectories(shared.resolve("c1/rootfs"));
        OciSpec spec = OciSpec.parse(spec("c1/rootfs", PROCESS));
        Path resolved = spec.resolveRoot(shared);
        assertEquals(rootfs.toRealPath(), resolved);
        spec.setRootPath(resolved);
        assertEquals("/kava/c1", spec.cgroupsPathOrDefault("/kava/c1"));
        String json = new String(spec.toJson(), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"path\":\"" + resolved + "\""), json);
        assertTrue(json.contains("\"cgroupsPath\":\"/kava/c1\""), json);
        assertEquals("sh", spec.executable());
    }

    @Test
    void keeps_a_cgroups_path_the_host_chose() throws Exception {
        byte[] json = ("{\"process\":" + PROCESS + ",\"root\":{\"path\":\"r\"},\"linux\":{\"cgroupsPath\":\"/pod/x\"}}")
                .getBytes(StandardCharsets.UTF_8);
        assertEquals("/pod/x", OciSpec.parse(json).cgroupsPathOrDefault("/kava/x"));
    }

    @Test
    void refuses_a_spec_without_process_args() {
        Files.exists(shared);
        TtrpcException e = invalid(spec("r", "{\"cwd\":\"/\"}"), shared);
        assertTrue(e.getMessage().contains("process.args is missing"), e.getMessage());
        invalid(spec("r", "{\"args\":[]}"), shared);
        invalid(spec("r", "{\"args\":[1]}"), shared);
        invalid(("{\"root\":{\"path\":\"r\"}}").getBytes(StandardCharsets.UTF_8), shared);
    }

    @Test
    void refuses_malformed_json_and_non_objects() {
        assertTrue(invalid("{\"process\":".getBytes(StandardCharsets.UTF_8), shared).getMessage().contains("malformed"));
        invalid("[1,2]".getBytes(StandardCharsets.UTF_8), shared);
        invalid(new byte[0], shared);
    }

    @Test
    void refuses_an_absolute_root_path() {
        TtrpcException e = invalid(spec("/etc", PROCESS), shared);
        assertTrue(e.getMessage().contains("must be relative"), e.getMessage());
    }

    @Test
    void refuses_a_root_path_that_climbs_out_with_dot_dot() throws Exception {
        Files.createDirectories(shared.resolve("c1"));
        TtrpcException e = invalid(spec("c1/../../etc", PROCESS), shared);
        assertTrue(e.getMessage().contains(".."), e.getMessage());
    }

    @Test
    void refuses_a_root_path_that_escapes_through_a_symbolic_link() throws Exception {
        Files.createSymbolicLink(shared.resolve("escape"), Path.of("/etc"));
        TtrpcException e = invalid(spec("escape", PROCESS), shared);
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
    }

    @Test
    void refuses_a_root_path_that_does_not_exist() {
        TtrpcException e = invalid(spec("missing/rootfs", PROCESS), shared);
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void refuses_wrongly_typed_fields() {
        invalid(spec("r", "{\"args\":[\"sh\"],\"terminal\":\"yes\"}"), shared);
        invalid(spec("r", "{\"args\":[\"sh\"],\"cwd\":\"relative\"}"), shared);
        invalid(spec("r", "{\"args\":[\"sh\"],\"env\":\"A=1\"}"), shared);
    }

    @Test
    void an_exec_process_gets_a_default_cwd_and_its_terminal_flag() throws Exception {
        var p = OciSpec.parseProcess("{\"args\":[\"ls\"],\"terminal\":true}".getBytes(StandardCharsets.UTF_8));
        assertEquals("/", p.get("cwd").getAsString());
        assertTrue(OciSpec.terminal(p));
        assertThrows(TtrpcException.class, () -> OciSpec.parseProcess("{}".getBytes(StandardCharsets.UTF_8)));
    }
}
