package dev.kava.linux;

/**
 * One line of {@code /proc/self/mountinfo} ({@code proc_pid_mountinfo(5)}), octal escapes such as
 * {@code \040} already decoded.
 *
 * @param id           the mount ID
 * @param parentId     the parent's mount ID
 * @param root         the root of the mount within its filesystem
 * @param mountPoint   where it is mounted, relative to this process's root
 * @param options      per-mount options, e.g. {@code rw,nosuid,relatime}
 * @param fsType       the filesystem type, e.g. {@code tmpfs}
 * @param source       the filesystem-specific source, e.g. {@code /dev/vda1} or {@code none}
 * @param superOptions per-superblock options, e.g. {@code rw,size=1024k}
 */
public record MountInfo(int id, int parentId, String root, String mountPoint, String options,
                        String fsType, String source, String superOptions) {
}
