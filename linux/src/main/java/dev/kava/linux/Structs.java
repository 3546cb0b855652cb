package dev.kava.linux;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;
import java.util.List;

/**
 * C structs of x86-64 Linux / glibc, padding spelled out. Each layout is named after its C type and
 * each member after its C field: the layout test derives its {@code sizeof}/{@code offsetof}
 * checks from these names.
 */
final class Structs {
    private Structs() {}

    /** {@code struct sockaddr_un} from {@code unix(7)}. */
    static final StructLayout SOCKADDR_UN = structLayout(
            JAVA_SHORT.withName("sun_family"),
            sequenceLayout(108, JAVA_BYTE).withName("sun_path")
    ).withName("struct sockaddr_un");

    /** {@code struct sockaddr_vm} from {@code vsock(7)}. */
    static final StructLayout SOCKADDR_VM = structLayout(
            JAVA_SHORT.withName("svm_family"),
            JAVA_SHORT.withName("svm_reserved1"),
            JAVA_INT.withName("svm_port"),
            JAVA_INT.withName("svm_cid"),
            JAVA_BYTE.withName("svm_flags"),
            sequenceLayout(3, JAVA_BYTE).withName("svm_zero")
    ).withName("struct sockaddr_vm");

    /** {@code struct iovec} from {@code readv(2)}. */
    static final StructLayout IOVEC = structLayout(
            ADDRESS.withName("iov_base"),
            JAVA_LONG.withName("iov_len")
    ).withName("struct iovec");

    /** {@code struct msghdr} from {@code sendmsg(2)}. */
    static final StructLayout MSGHDR = structLayout(
            ADDRESS.withName("msg_name"),
            JAVA_INT.withName("msg_namelen"),
            paddingLayout(4),
            ADDRESS.withName("msg_iov"),
            JAVA_LONG.withName("msg_iovlen"),
            ADDRESS.withName("msg_control"),
            JAVA_LONG.withName("msg_controllen"),
            JAVA_INT.withName("msg_flags"),
            paddingLayout(4)
    ).withName("struct msghdr");

    /** {@code struct cmsghdr} from {@code cmsg(3)}; the data follows at {@code CMSG_DATA}. */
    static final StructLayout CMSGHDR = structLayout(
            JAVA_LONG.withName("cmsg_len"),
            JAVA_INT.withName("cmsg_level"),
            JAVA_INT.withName("cmsg_type")
    ).withName("struct cmsghdr");

    /** {@code struct winsize} from {@code ioctl_tty(2)}. */
    static final StructLayout WINSIZE = structLayout(
            JAVA_SHORT.withName("ws_row"),
            JAVA_SHORT.withName("ws_col"),
            JAVA_SHORT.withName("ws_xpixel"),
            JAVA_SHORT.withName("ws_ypixel")
    ).withName("struct winsize");

    /** glibc's {@code struct termios} from {@code termios(3)} (NCCS = 32). */
    static final StructLayout TERMIOS = structLayout(
            JAVA_INT.withName("c_iflag"),
            JAVA_INT.withName("c_oflag"),
            JAVA_INT.withName("c_cflag"),
            JAVA_INT.withName("c_lflag"),
            JAVA_BYTE.withName("c_line"),
            sequenceLayout(32, JAVA_BYTE).withName("c_cc"),
            paddingLayout(3),
            JAVA_INT.withName("c_ispeed"),
            JAVA_INT.withName("c_ospeed")
    ).withName("struct termios");

    /** {@code struct timespec} from {@code clock_settime(2)}. */
    static final StructLayout TIMESPEC = structLayout(
            JAVA_LONG.withName("tv_sec"),
            JAVA_LONG.withName("tv_nsec")
    ).withName("struct timespec");

    /** {@code struct utsname} from {@code uname(2)} (each field 65 bytes). */
    static final StructLayout UTSNAME = structLayout(
            sequenceLayout(65, JAVA_BYTE).withName("sysname"),
            sequenceLayout(65, JAVA_BYTE).withName("nodename"),
            sequenceLayout(65, JAVA_BYTE).withName("release"),
            sequenceLayout(65, JAVA_BYTE).withName("version"),
            sequenceLayout(65, JAVA_BYTE).withName("machine"),
            sequenceLayout(65, JAVA_BYTE).withName("domainname")
    ).withName("struct utsname");

    /** Every layout above, for the layout test. */
    static final List<StructLayout> ALL = List.of(
            SOCKADDR_UN, SOCKADDR_VM, IOVEC, MSGHDR, CMSGHDR, WINSIZE, TERMIOS, TIMESPEC, UTSNAME);

    /** The byte offset of a member. */
    static long offset(StructLayout layout, String member) {
        return layout.byteOffset(PathElement.groupElement(member));
    }
}
