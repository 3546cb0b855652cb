/**
 * virtio-console: {@link dev.kava.virtio.console.VirtioConsole}, one port ({@code hvc0}) between the
 * guest and a host descriptor pair, with back-pressure in both directions.
 */
package dev.kava.virtio.console;
