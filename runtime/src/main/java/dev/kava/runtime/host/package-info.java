/** Checks of what the host offers (KVM, hypervisors, guest artifacts), for {@code kava check}. */
package dev.kava.runtime.host;
