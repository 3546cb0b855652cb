/**
 * The OCI runtime spec as the agent receives it (JSON bytes): parsing, validation with clear
 * INVALID_ARGUMENT errors, and the rewrites the agent makes before crun sees it (root.path made
 * absolute under the shared directory, a default cgroups path).
 */
package dev.kava.agent.oci;
