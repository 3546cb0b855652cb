/**
 * virtio-vsock with Firecracker's hybrid vsock host side: {@link dev.kava.virtio.vsock.VirtioVsock}
 * (the device), {@link dev.kava.virtio.vsock.VsockConfig} (guest CID and host socket path),
 * {@link dev.kava.virtio.vsock.VsockHeader} (the packet header). The host side speaks
 * {@code CONNECT <port>\n} / {@code OK <hostport>\n} on one unix socket, and guest connections to
 * host port P reach {@code <socket>_<P>}; flow control is virtio-vsock's credit scheme on both
 * sides, and every resource a guest can make the host hold is bounded.
 */
package dev.kava.virtio.vsock;
