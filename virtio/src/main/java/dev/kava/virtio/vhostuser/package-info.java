/**
 * A vhost-user back-end server: {@link dev.kava.virtio.vhostuser.VhostUserBackend} listens on a
 * unix socket, speaks the vhost-user protocol with a front-end such as QEMU, maps the guest
 * memory it is given and runs the rings of one {@link dev.kava.virtio.vhostuser.VhostUserDevice}
 * on one platform thread; a device may complete chains on threads of its own through
 * {@link dev.kava.virtio.vhostuser.UsedRing}.
 */
package dev.kava.virtio.vhostuser;
