/**
 * A container process's stdio as the host sees it through the agent API: OS pipes (or a pty
 * master) handed to the child, platform pump threads that drain stdout/stderr into bounded
 * buffers (back-pressure on the container, never a dropped byte), and a stdin sink whose
 * blocking writes also run on platform threads.
 */
package dev.kava.agent.stream;
