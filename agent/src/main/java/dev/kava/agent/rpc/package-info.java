/**
 * The agent API on ttrpc: {@link dev.kava.agent.rpc.AgentServer} registers every method of
 * {@code kava.agent.AgentService} and {@code kava.agent.Health} and maps failures to statuses.
 */
package dev.kava.agent.rpc;
