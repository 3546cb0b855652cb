package dev.kava.virtio.device;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.linux.testing.CHeaders;
import dev.kava.virtio.blk.VirtioBlock;
import dev.kava.virtio.console.VirtioConsole;
import dev.kava.virtio.net.VirtioNet;
import dev.kava.virtio.vsock.VsockHeader;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every wire constant and layout of the device models checked against the Linux uapi headers
 * (what the guest's drivers are compiled from) with gcc: feature bits, request types, status
 * values, packet operations, device ids, header sizes and the config-space offsets we fill.
 */
class VirtioHeadersTest {
    private static final List<String> HEADERS = List.of("linux/virtio_config.h",
            "linux/virtio_ids.h", "linux/virtio_ring.h", "linux/virtio_blk.h", "linux/virtio_net.h",
            "linux/virtio_console.h", "linux/virtio_vsock.h");

    /** Java constant holders, the prefix their C macros carry, and the Java names that are not macros. */
    private record Holder(Class<?> type, String prefix, List<String> notC) {}

    private static final List<Holder> HOLDERS = List.of(
            // T_GET_LIFETIME (10) is in the virtio 1.2 spec (§5.2.6) but not in Linux's uapi header
            new Holder(VirtioBlock.class, "VIRTIO_BLK_", List.of("SECTOR_SIZE", "QUEUE_SIZE", "MAX_DISCARD_SEGMENTS",
                    "MAX_DISCARD_SECTORS", "CONFIG_SIZE", "WRITE_ZEROES_FLAG_UNMAP", "T_GET_LIFETIME")),
            new Holder(VirtioNet.class, "VIRTIO_NET_", List.of("RECEIVE_QUEUE", "TRANSMIT_QUEUE", "HEADER_BYTES",
                    "MAX_FRAME", "CONFIG_SIZE", "QUEUE_SIZE")),
            new Holder(VirtioConsole.class, "VIRTIO_CONSOLE_", List.of("RECEIVE_QUEUE", "TRANSMIT_QUEUE", "CONFIG_SIZE",
                    "QUEUE_SIZE")),
            new Holder(VsockHeader.class, "VIRTIO_VSOCK_", List.of("BYTES")));

    @Test
    void constantsAndLayoutsMatchTheLinuxHeaders(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        for (Holder h : HOLDERS) {
            for (Field f : h.type().getDeclaredFields()) {
                int mod = f.getModifiers();
                if (!Modifier.isStatic(mod) || !Modifier.isFinal(mod) || !Modifier.isPublic(mod) || f.getType() != int.class
                        || h.notC().contains(f.getName())) {
                    continue;
                }
                expected.put(h.prefix() + f.getName(), (long) f.getInt(null));
            }
        }
        expected.put("VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP", (long) VirtioBlock.WRITE_ZEROES_FLAG_UNMAP);
        expected.put("VIRTIO_F_VERSION_1", (long) Features.VERSION_1);
        expected.put("VIRTIO_F_ACCESS_PLATFORM", (long) Features.ACCESS_PLATFORM);
        expected.put("VIRTIO_F_RING_PACKED", (long) Features.RING_PACKED);
        expected.put("VIRTIO_RING_F_INDIRECT_DESC", (long) Features.RING_INDIRECT_DESC);
        expected.put("VIRTIO_RING_F_EVENT_IDX", (long) Features.RING_EVENT_IDX);
        expected.put("VIRTIO_ID_NET", (long) DeviceType.NET.id());
        expected.put("VIRTIO_ID_BLOCK", (long) DeviceType.BLOCK.id());
        expected.put("VIRTIO_ID_CONSOLE", (long) DeviceType.CONSOLE.id());
        expected.put("VIRTIO_ID_RNG", (long) DeviceType.ENTROPY.id());
        expected.put("VIRTIO_ID_BALLOON", (long) DeviceType.BALLOON.id());
        expected.put("VIRTIO_ID_VSOCK", (long) DeviceType.VSOCK.id());
        expected.put("VIRTIO_ID_FS", (long) DeviceType.FS.id());
        // headers and config fields the devices read and write by offset
        expected.put("sizeof(struct virtio_net_hdr_v1)", (long) VirtioNet.HEADER_BYTES);
        expected.put("offsetof(struct virtio_net_hdr_v1, num_buffers)", 10L);
        expected.put("offsetof(struct virtio_net_hdr_v1, csum_start)", 6L);
        expected.put("offsetof(struct virtio_net_hdr_v1, csum_offset)", 8L);
        expected.put("offsetof(struct virtio_net_config, status)", 6L);
        expected.put("offsetof(struct virtio_net_config, max_virtqueue_pairs)", 8L);
        expected.put("offsetof(struct virtio_net_config, mtu)", 10L);
        expected.put("sizeof(struct virtio_vsock_hdr)", (long) VsockHeader.BYTES);
        String[] vsockFields = {"src_cid", "dst_cid", "src_port", "dst_port", "len", "type", "op", "flags", "buf_alloc", "fwd_cnt"};
        long[] vsockOffsets = {0, 8, 16, 20, 24, 28, 30, 32, 36, 40};
        for (int i = 0; i < vsockFields.length; i++) {
            expected.put("offsetof(struct virtio_vsock_hdr, " + vsockFields[i] + ")", vsockOffsets[i]);
        }
        expected.put("sizeof(struct virtio_vsock_config)", 8L);
        expected.put("sizeof(struct virtio_console_config)", (long) VirtioConsole.CONFIG_SIZE);
        expected.put("offsetof(struct virtio_console_config, emerg_wr)", 8L);
        String[] blkFields = {"capacity", "size_max", "seg_max", "blk_size", "num_queues", "max_discard_sectors",
                "max_discard_seg", "discard_sector_alignment", "max_write_zeroes_sectors", "max_write_zeroes_seg",
                "write_zeroes_may_unmap"};
        long[] blkOffsets = {0, 8, 12, 20, 34, 36, 40, 44, 48, 52, 56};
        for (int i = 0; i < blkFields.length; i++) {
            expected.put("offsetof(struct virtio_blk_config, " + blkFields[i] + ")", blkOffsets[i]);
        }
        expected.put("offsetof(struct virtio_blk_config, unused1) + 3", (long) VirtioBlock.CONFIG_SIZE);
        expected.put("sizeof(struct virtio_blk_outhdr)", 16L);
        expected.put("sizeof(struct virtio_blk_discard_write_zeroes)", 16L);
        assertTrue(expected.size() > 90, "checks: " + expected.size());

        CHeaders.assertMatch(dir, HEADERS, expected);
    }
}
