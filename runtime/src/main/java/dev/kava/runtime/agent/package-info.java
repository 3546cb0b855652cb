/** The host's client of the guest agent API. */
package dev.kava.runtime.agent;
