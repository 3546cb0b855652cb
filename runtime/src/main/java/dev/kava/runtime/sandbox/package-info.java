/**
 * Sandboxes: a VM, its agent connection and its host resources, with persisted state so that
 * {@code kava cleanup} can undo what a crashed process left behind.
 */
package dev.kava.runtime.sandbox;
