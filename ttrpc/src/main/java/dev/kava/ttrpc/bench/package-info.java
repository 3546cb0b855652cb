/** Benchmarks of the ttrpc module, runnable from {@code kava bench ttrpc}. */
package dev.kava.ttrpc.bench;
