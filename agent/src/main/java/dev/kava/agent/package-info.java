/**
 * The kava guest agent: PID 1 of the sandbox VM. {@link dev.kava.agent.AgentMain} mounts what
 * Linux and crun need, reaps orphans, and serves the agent API (ttrpc) on the virtio-serial port,
 * on vsock, or on a unix socket for tests.
 */
package dev.kava.agent;
