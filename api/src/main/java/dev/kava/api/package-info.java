/**
 * Protocol definitions shared by the host and the guest. The kava agent API lives in
 * {@code dev.kava.api.agent}, generated from {@code src/main/protobuf/kava/agent/agent.proto}.
 */
package dev.kava.api;
