package dev.kava.vmm.boot;

import dev.kava.linux.testing.CHeaders;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** boot_params offsets and boot protocol constants checked against {@code <asm/bootparam.h>} with gcc. */
class BootHeadersTest {
    @Test
    void zeroPageOffsetsMatchAsmBootparamH(@TempDir Path dir) throws Exception {
        Map<String, Long> e = new LinkedHashMap<>();
        e.put("sizeof(struct boot_params)", (long) BootParams.SIZE);
        e.put("offsetof(struct boot_params, ext_ramdisk_image)", (long) BootParams.EXT_RAMDISK_IMAGE);
        e.put("offsetof(struct boot_params, ext_ramdisk_size)", (long) BootParams.EXT_RAMDISK_SIZE);
        e.put("offsetof(struct boot_params, ext_cmd_line_ptr)", (long) BootParams.EXT_CMD_LINE_PTR);
        e.put("offsetof(struct boot_params, e820_entries)", (long) BootParams.E820_ENTRIES);
        e.put("offsetof(struct boot_params, sentinel)", (long) BootParams.SENTINEL);
        e.put("offsetof(struct boot_params, hdr)", (long) BootParams.HDR);
        e.put("offsetof(struct boot_params, e820_table)", (long) BootParams.E820_TABLE);
        String[][] hdr = {
            {"setup_sects", "" + BootParams.HDR_SETUP_SECTS}, {"vid_mode", "" + BootParams.HDR_VID_MODE},
            {"boot_flag", "" + BootParams.HDR_BOOT_FLAG}, {"header", "" + BootParams.HDR_HEADER},
            {"version", "" + BootParams.HDR_VERSION}, {"type_of_loader", "" + BootParams.HDR_TYPE_OF_LOADER},
            {"loadflags", "" + BootParams.HDR_LOADFLAGS}, {"code32_start", "" + BootParams.HDR_CODE32_START},
            {"ramdisk_image", "" + BootParams.HDR_RAMDISK_IMAGE}, {"ramdisk_size", "" + BootParams.HDR_RAMDISK_SIZE},
            {"heap_end_ptr", "" + BootParams.HDR_HEAP_END_PTR}, {"cmd_line_ptr", "" + BootParams.HDR_CMD_LINE_PTR},
            {"initrd_addr_max", "" + BootParams.HDR_INITRD_ADDR_MAX}, {"kernel_alignment", "" + BootParams.HDR_KERNEL_ALIGNMENT},
            {"relocatable_kernel", "" + BootParams.HDR_RELOCATABLE_KERNEL}, {"xloadflags", "" + BootParams.HDR_XLOADFLAGS},
            {"cmdline_size", "" + BootParams.HDR_CMDLINE_SIZE}, {"hardware_subarch", "" + BootParams.HDR_HARDWARE_SUBARCH},
            {"pref_address", "" + BootParams.HDR_PREF_ADDRESS}, {"init_size", "" + BootParams.HDR_INIT_SIZE}};
        for (String[] h : hdr) {
            e.put("offsetof(struct boot_params, hdr." + h[0] + ")", Long.parseLong(h[1]));
        }
        e.put("sizeof(struct boot_e820_entry)", (long) E820Entry.BYTES);
        e.put("E820_MAX_ENTRIES_ZEROPAGE", (long) BootParams.E820_MAX);
        e.put("LOADED_HIGH", (long) BootParams.LOADED_HIGH);
        e.put("KEEP_SEGMENTS", (long) BootParams.KEEP_SEGMENTS);
        e.put("CAN_USE_HEAP", (long) BootParams.CAN_USE_HEAP);
        e.put("XLF_KERNEL_64", (long) KernelImage.BzImage.XLF_KERNEL_64);
        e.put("E820_RAM", (long) E820Entry.RAM);
        e.put("E820MAP", (long) BootParams.E820_TABLE);
        e.put("E820NR", (long) BootParams.E820_ENTRIES);
        e.put("E820_RESERVED", (long) E820Entry.RESERVED);
        CHeaders.assertMatch(dir, List.of("asm/bootparam.h", "asm/e820.h"), e);
    }
}
