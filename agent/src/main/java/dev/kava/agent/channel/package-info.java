/**
 * The transports the agent serves ttrpc on: the virtio-serial port (one long-lived stream,
 * re-served when the host reconnects) and AF_VSOCK connections. Both read in blocking native
 * calls, so their reader and writer threads are platform threads.
 */
package dev.kava.agent.channel;
