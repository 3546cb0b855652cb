/**
 * containerd's ttrpc protocol: a {@link dev.kava.ttrpc.TtrpcClient} and a {@link
 * dev.kava.ttrpc.TtrpcServer} over any {@link dev.kava.ttrpc.ByteStream} (unix socket, vsock,
 * a virtio-serial port, pipes).
 *
 * <p>Wire: frames of a 10-byte big-endian header (uint32 data length, uint32 stream id, uint8
 * type, uint8 flags) and at most 4 MiB of data; types request (1), response (2), data (3);
 * client stream ids odd and increasing. Requests and responses carry the {@code ttrpc.Request}
 * and {@code ttrpc.Response} envelopes of {@code dev/kava/ttrpc/ttrpc.proto}, statuses are
 * {@code google.rpc.Status}. Streams follow containerd's PROTOCOL.md: request flags {@code
 * remote open} (the client will send data) or {@code remote closed} (it will not), data flags
 * {@code remote closed} (the sender's last) and {@code no data}.
 *
 * <p>Trust: everything a peer sends is checked before use (frame length before allocation,
 * type, stream ids, envelopes); a peer that breaks the protocol loses its connection, never
 * the process, and the buffers a peer can fill are capped. Errors: {@link
 * dev.kava.ttrpc.TtrpcException} with a {@link dev.kava.ttrpc.Code}; logs go to the
 * java.util.logging logger {@code dev.kava.ttrpc}.
 */
package dev.kava.ttrpc;
