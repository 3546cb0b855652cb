package dev.kava.runtime.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    private static final Path FILE = Path.of("/etc/kava/test.toml");
    private static final Path CACHE = Path.of("/var/cache/kava");

    @Test
    void anEmptyFileGivesTheDefaults() {
        KavaConfig c = ConfigLoader.parse("", FILE, CACHE);
        KavaConfig d = KavaConfig.defaults(CACHE);
        assertEquals(d.hypervisor(), c.hypervisor());
        assertEquals(d.runtime(), c.runtime());
        assertEquals(Path.of("/var/cache/kava/current/bzImage"), c.hypervisor().kernel());
        assertEquals(512, c.hypervisor().memoryMiB());
    }

    @Test
    void everyDocumentedKeyIsRead() {
        KavaConfig c = ConfigLoader.parse("""
                [hypervisor]
                name = "qemu"
                vcpus = 2
                memory_mib = 1024
                kernel = "/k/bzImage"
                image = "/k/img"
                kernel_params = ["a=1", "b"]
                debug_console = true
                boot_timeout_seconds = 9
                shared_fs = "9p"
                virtio_fs_cache = "always"
                [agent]
                dial_timeout_seconds = 3
                request_timeout_seconds = 4
                [runtime]
                handler = "virt"
                state_dir = "/tmp/state"
                cache_dir = "/tmp/cache"
                stop_timeout_seconds = 5
                """, FILE, CACHE);
        var h = c.hypervisor();
        assertEquals("qemu", h.name());
        assertEquals(2, h.vcpus());
        assertEquals(1024, h.memoryMiB());
        assertEquals(Path.of("/k/bzImage"), h.kernel());
        assertEquals(Path.of("/k/img"), h.image());
        assertEquals(List.of("a=1", "b"), h.kernelParams());
        assertTrue(h.debugConsole());
        assertEquals(Duration.ofSeconds(9), h.bootTimeout());
        assertEquals(KavaConfig.SharedFs.NINE_P, h.sharedFs());
        assertEquals(KavaConfig.VirtioFsCache.ALWAYS, h.virtioFsCache());
        assertEquals(Duration.ofSeconds(3), c.agent().dialTimeout());
        assertEquals(Duration.ofSeconds(4), c.agent().requestTimeout());
        assertEquals(Path.of("/tmp/state"), c.runtime().stateDir());
        assertEquals(Path.of("/tmp/cache"), c.runtime().cacheDir());
        assertEquals(Duration.ofSeconds(5), c.runtime().stopTimeout());
    }

    @Test
    void theCacheDirMovesTheDefaultKernelAndImage() {
        KavaConfig c = ConfigLoader.parse("[runtime]\ncache_dir = \"/srv/kava\"\n", FILE, CACHE);
        assertEquals(Path.of("/srv/kava/current/bzImage"), c.hypervisor().kernel());
        assertEquals(Path.of("/srv/kava/current/kava-guest.img"), c.hypervisor().image());
    }

    @Test
    void kernelParamsMayBeOneString() {
        KavaConfig c = ConfigLoader.parse("[hypervisor]\nkernel_params = \" quiet  loglevel=3 \"\n", FILE, CACHE);
        assertEquals(List.of("quiet", "loglevel=3"), c.hypervisor().kernelParams());
    }

    @Test
    void anUnknownKeyIsAnErrorNamingIt() {
        var e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nmemroy_mib = 5\n", FILE, CACHE));
        assertTrue(e.getMessage().contains("hypervisor.memroy_mib"), e.getMessage());
        assertTrue(e.getMessage().contains(FILE.toString()), e.getMessage());
    }

    @Test
    void anUnknownTableIsAnError() {
        var e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisr]\nname = \"qemu\"\n", FILE, CACHE));
        assertTrue(e.getMessage().contains("hypervisr"), e.getMessage());
    }

    @Test
    void wrongTypesAndRangesAreErrors() {
        assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nvcpus = \"two\"\n", FILE, CACHE));
        assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nvcpus = 0\n", FILE, CACHE));
        assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nmemory_mib = 64\n", FILE, CACHE));
        assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nname = \"xen\"\n", FILE, CACHE));
        assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nkernel = \"relative/path\"\n", FILE, CACHE));
        assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\ndebug_console = 1\n", FILE, CACHE));
    }

    @Test
    void theSharedFileSystemDefaultsToVirtioFsWithTheAutoCache() {
        var h = ConfigLoader.parse("", FILE, CACHE).hypervisor();
        assertEquals(KavaConfig.SharedFs.VIRTIO_FS, h.sharedFs());
        assertEquals(KavaConfig.VirtioFsCache.AUTO, h.virtioFsCache());
        for (String mode : List.of("none", "auto", "always")) {
            assertEquals(mode, ConfigLoader.parse("[hypervisor]\nvirtio_fs_cache = \"" + mode + "\"\n", FILE, CACHE)
                    .hypervisor().virtioFsCache().key());
        }
        assertEquals(KavaConfig.SharedFs.VIRTIO_FS,
                ConfigLoader.parse("[hypervisor]\nshared_fs = \"virtio-fs\"\n", FILE, CACHE).hypervisor().sharedFs());
    }

    @Test
    void anUnknownSharedFileSystemOrCacheModeIsAnErrorListingTheChoices() {
        var e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nshared_fs = \"nfs\"\n", FILE, CACHE));
        assertEquals(FILE + ": hypervisor.shared_fs must be one of \"virtio-fs\", \"9p\", not \"nfs\"", e.getMessage());
        e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nvirtio_fs_cache = \"never\"\n", FILE, CACHE));
        assertEquals(FILE + ": hypervisor.virtio_fs_cache must be one of \"none\", \"auto\", \"always\", not \"never\"", e.getMessage());
        e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nvirtio_fs_cache = 1\n", FILE, CACHE));
        assertTrue(e.getMessage().contains("virtio_fs_cache must be a string"), e.getMessage());
        assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor]\nshared_fs = \"VIRTIO-FS\"\n", FILE, CACHE));
    }

    @Test
    void malformedTomlIsAnErrorNamingTheFile() {
        var e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("[hypervisor\nname=", FILE, CACHE));
        assertTrue(e.getMessage().startsWith(FILE.toString()), e.getMessage());
    }

    @Test
    void anExplicitFileThatDoesNotExistIsAnError(@TempDir Path tmp) {
        var e = assertThrows(ConfigException.class, () -> ConfigLoader.load(tmp.resolve("missing.toml")));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void anExplicitFileIsRead(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("k.toml");
        Files.writeString(f, "[hypervisor]\nvcpus = 3\n");
        KavaConfig c = ConfigLoader.load(f);
        assertEquals(3, c.hypervisor().vcpus());
        assertEquals(f, c.source());
    }
}
