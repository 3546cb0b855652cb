/** kava's TOML configuration: keys, defaults, validation. */
package dev.kava.runtime.config;
