/**
 * Generated protobuf classes of the ttrpc envelope ({@code Request}, {@code Response}, {@code
 * KeyValue}) and of {@code google.rpc.Status}, from {@code src/main/protobuf/dev/kava/ttrpc}.
 * Internal to the module: the API in {@code dev.kava.ttrpc} never exposes them.
 */
package dev.kava.ttrpc.wire;
