/**
 * Host resources a sandbox sets up and undoes: the shared directory the guest mounts, each
 * container's overlay rootfs. Every mount is recorded in the sandbox state before it is made.
 */
package dev.kava.runtime.resource;
