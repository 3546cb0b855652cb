/** The OCI runtime spec (config.json) kava hands to the guest for each container. */
package dev.kava.runtime.oci;
