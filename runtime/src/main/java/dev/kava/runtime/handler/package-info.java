/** Runtime handlers: the kinds of isolation a sandbox can have ("virt" today). */
package dev.kava.runtime.handler;
