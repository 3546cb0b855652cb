package dev.kava.vmm;

import java.util.HexFormat;
import java.util.Map;

/**
 * The small guest programs of the KVM tests, assembled: each is the {@code .text} of
 * {@code src/test/resources/guest/<name>.S} ({@code as --64}, then {@code objcopy -O binary -j .text}),
 * loaded at {@link #LOAD_ADDRESS} and entered in 64-bit mode with the boot code's page tables and
 * GDT. {@code GuestProgramsTest} re-assembles every source and checks these bytes, so the source
 * beside them is the truth.
 */
final class GuestPrograms {
    /** Where the programs are loaded and entered. */
    static final long LOAD_ADDRESS = 0x100000;

    /** long_mode_serial.S: see its header comment. */
    static final byte[] LONG_MODE_SERIAL = hex(
            "48b8000000004b41564148c1e82066baf803b904000000eec1e808ffc975f80f20c0480fbae01f7314b9800000c00f32"
            + "0fbae00a7307b8204c4d0aeb05b8204e4f0ab904000000eec1e808ffc975f8faf4ebfd");

    /** virtio_rng.S: see its header comment. */
    static final byte[] VIRTIO_RNG = hex(
            "bb000000d040b631813b766972740f854e01000040b632837b04020f854101000040b633837b08040f8534010000c743"
            + "7000000000c7437001000000c7437003000000c743140100000040b634f74310010000000f8408010000c74324010000"
            + "00c7432001000000c7432400000000c7432000000000c743700b00000040b635f74370080000000f84d5000000c74330"
            + "0000000040b636837b34080f82c1000000c7433808000000c7838000000000002000c7838400000000000000c7839000"
            + "000000102000c7839400000000000000c783a000000000202000c783a400000000000000c7434401000000c743700f00"
            + "000040b637f7437040000000756448c704250000200000302000c70425080020001000000066c704250c002000020066"
            + "c704250e002000000066c7042500102000000066c7042504102000000066c70425021020000100c7435000000000f390"
            + "66833c25022020000175f3b84f4b0a00eb0c400fb6c6c1e0080d46000a0066baf803eec1e80875fafaf4ebfd");

    /** ioapic_irq.S: see its header comment. */
    static final byte[] IOAPIC_IRQ = hex(
            "488d0572000000bf0003300066890766c747021000c6470400c647058e48c1e8106689470648c1e810894708c7470c00"
            + "0000000f011d5e000000b0ffe621e6a1be0000e0febf0000c0fec786f0000000ff010000c7071a000000c74710300000"
            + "00c7071b000000c747100000000066baf803b052eefbf4ebfd505266baf803b049ee56be0000e0fec786b00000000000"
            + "00005e5a5848cf90ff0f0000300000000000");

    /** counter.S: see its header comment. */
    static final byte[] COUNTER = hex(
            "66baf803b043ee31c048ffc04889042500004000ebf3");

    /** smp_apic_id.S: see its header comment. */
    static final byte[] SMP_APIC_ID = hex(
            "b8010000000fa2c1eb188d433066baf803eefaf4ebfd");

    /** i8042_reset.S: see its header comment. */
    static final byte[] I8042_RESET = hex(
            "e464a80275fab0fee664faf4ebfd");

    /** Every program by its source name. */
    static final Map<String, byte[]> ALL = Map.of(
            "long_mode_serial", LONG_MODE_SERIAL, "virtio_rng", VIRTIO_RNG, "ioapic_irq", IOAPIC_IRQ,
            "counter", COUNTER, "smp_apic_id", SMP_APIC_ID, "i8042_reset", I8042_RESET);

    private GuestPrograms() {}

    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s);
    }
}
