package dev.kava.agent;

import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcException;

/** Factories of the statuses the agent answers with: one place, one wording. */
public final class AgentErrors {
    private AgentErrors() {}

    public static TtrpcException invalid(String message) {
        return new TtrpcException(Code.INVALID_ARGUMENT, message);
    }

    public static TtrpcException notFound(String message) {
        return new TtrpcException(Code.NOT_FOUND, message);
    }

    public static TtrpcException alreadyExists(String message) {
        return new TtrpcException(Code.ALREADY_EXISTS, message);
    }

    public static TtrpcException precondition(String message) {
        return new TtrpcException(Code.FAILED_PRECONDITION, message);
    }

    public static TtrpcException denied(String message) {
        return new TtrpcException(Code.PERMISSION_DENIED, message);
    }

    public static TtrpcException internal(String message) {
        return new TtrpcException(Code.INTERNAL, message);
    }

    public static TtrpcException internal(String message, Throwable cause) {
        return new TtrpcException(Code.INTERNAL, message, cause);
    }
}
