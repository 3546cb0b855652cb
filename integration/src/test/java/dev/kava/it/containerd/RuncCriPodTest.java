package dev.kava.it.containerd;

/** The CRI pod contract with runc: the reference the kava handler is compared with. */
class RuncCriPodTest extends CriPodContract {
    @Override
    protected String runtimeHandler() {
        return "runc";
    }
}
