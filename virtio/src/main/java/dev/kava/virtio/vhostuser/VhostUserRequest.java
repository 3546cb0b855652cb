package dev.kava.virtio.vhostuser;

/**
 * The front-end requests of the vhost-user protocol (QEMU docs/interop/vhost-user.rst), by their
 * wire codes. {@link VhostUserBackend} implements the ones its javadoc lists; the others are
 * named here so that logs and observers can say what a front-end asked for.
 */
public enum VhostUserRequest {
    GET_FEATURES(1),
    SET_FEATURES(2),
    SET_OWNER(3),
    RESET_OWNER(4),
    SET_MEM_TABLE(5),
    SET_LOG_BASE(6),
    SET_LOG_FD(7),
    SET_VRING_NUM(8),
    SET_VRING_ADDR(9),
    SET_VRING_BASE(10),
    GET_VRING_BASE(11),
    SET_VRING_KICK(12),
    SET_VRING_CALL(13),
    SET_VRING_ERR(14),
    GET_PROTOCOL_FEATURES(15),
    SET_PROTOCOL_FEATURES(16),
    GET_QUEUE_NUM(17),
    SET_VRING_ENABLE(18),
    SEND_RARP(19),
    NET_SET_MTU(20),
    SET_BACKEND_REQ_FD(21),
    IOTLB_MSG(22),
    SET_VRING_ENDIAN(23),
    GET_CONFIG(24),
    SET_CONFIG(25),
    CREATE_CRYPTO_SESSION(26),
    CLOSE_CRYPTO_SESSION(27),
    POSTCOPY_ADVISE(28),
    POSTCOPY_LISTEN(29),
    POSTCOPY_END(30),
    GET_INFLIGHT_FD(31),
    SET_INFLIGHT_FD(32),
    GPU_SET_SOCKET(33),
    RESET_DEVICE(34),
    VRING_KICK(35),
    GET_MAX_MEM_SLOTS(36),
    ADD_MEM_REG(37),
    REM_MEM_REG(38),
    SET_STATUS(39),
    GET_STATUS(40);

    private static final VhostUserRequest[] BY_CODE = new VhostUserRequest[41];

    static {
        for (VhostUserRequest r : values()) {
            BY_CODE[r.code] = r;
        }
    }

    private final int code;

    VhostUserRequest(int code) {
        this.code = code;
    }

    /** The request's code on the wire. */
    public int code() {
        return code;
    }

    /** The request with this wire code, or null for a code the protocol does not define. */
    public static VhostUserRequest of(int code) {
        return code > 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
