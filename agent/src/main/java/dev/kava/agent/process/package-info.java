/**
 * The agent's children and orphans. As PID 1 (and a child subreaper) the agent inherits every
 * orphaned process in the guest and must reap it, without stealing the exit status of the
 * children the JDK waits for itself ({@link java.lang.Process}) or of the container init
 * processes it waits for on dedicated platform threads. {@link dev.kava.agent.process.ChildProcesses}
 * keeps the set of owned pids and sweeps the other zombies.
 */
package dev.kava.agent.process;
