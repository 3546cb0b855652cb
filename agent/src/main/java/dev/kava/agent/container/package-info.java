/**
 * Containers and their processes, run with crun: the container registry and lifecycle
 * ({@link dev.kava.agent.container.ContainerService}), the crun command line
 * ({@link dev.kava.agent.container.Crun}), cgroup v2 statistics, process listings and OOM
 * events.
 */
package dev.kava.agent.container;
