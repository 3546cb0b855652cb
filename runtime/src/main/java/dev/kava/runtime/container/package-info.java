/** Containers and their processes' stdio, as the runtime drives them. */
package dev.kava.runtime.container;
