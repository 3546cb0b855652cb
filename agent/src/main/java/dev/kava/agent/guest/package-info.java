/**
 * The guest itself: the mounts Linux and crun need (devpts, shm, cgroup2 with delegated
 * controllers), the sandbox's storages (9p, virtio-fs, tmpfs, bind), hostname, clock, files the
 * host copies in, details about the guest, and the power-off at the end of the sandbox.
 */
package dev.kava.agent.guest;
