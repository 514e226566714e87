/*
 * vmi_sockdiag.c: whether a socket listens at a unix socket file
 *
 * /proc/net/unix names a socket by the path it was bound to, as its
 * process saw it: in another mount namespace (another libvirtd on this
 * host, a container) the same path is another file. The kernel's
 * sock_diag tells the device and inode of the file each listening socket
 * is bound to, which match the file's own, found however it is reached
 * (/proc/PID/root/...). Connecting to find out would look like a failed
 * handshake to the tool.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/vmi_sockdiag.h"
#include "conf/vmi_error.h"

#define VMI_TCP_LISTEN 10


static gboolean
vmiSockDiagMatch(struct nlmsghdr *h, const struct stat *st)
{
    struct unix_diag_msg *msg = NLMSG_DATA(h);
    int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*msg));
    struct rtattr *attr;

    for (attr = (struct rtattr *)(msg + 1); RTA_OK(attr, len); attr = RTA_NEXT(attr, len)) {
        struct unix_diag_vfs *vfs = RTA_DATA(attr);

        /* the kernel's dev_t: major << 20 | minor */
        if (attr->rta_type == UNIX_DIAG_VFS && RTA_PAYLOAD(attr) >= sizeof(*vfs) &&
            vfs->udiag_vfs_ino == st->st_ino &&
            (vfs->udiag_vfs_dev >> 20) == major(st->st_dev) &&
            (vfs->udiag_vfs_dev & 0xfffff) == minor(st->st_dev))
            return TRUE;
    }
    return FALSE;
}


/*
 * @listening: whether a listening socket is bound to the file at @path
 * (FALSE when there is no socket file there). FALSE with @error when the
 * kernel cannot be asked.
 */
gboolean
vmiUnixFileListening(const char *path, gboolean *listening, GError **error)
{
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } request = {
        .nlh = {
            .nlmsg_len = sizeof(request),
            .nlmsg_type = SOCK_DIAG_BY_FAMILY,
            .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
        },
        .req = {
            .sdiag_family = AF_UNIX,
            .udiag_states = 1 << VMI_TCP_LISTEN,
            .udiag_show = UDIAG_SHOW_VFS,
        },
    };
    g_autofree char *buf = g_malloc(32768);
    struct stat st;
    int fd;

    *listening = FALSE;
    if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return TRUE;
    if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0 ||
        send(fd, &request, sizeof(request), 0) < 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "cannot ask the kernel for its listening sockets: %s", g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return FALSE;
    }
    for (;;) {
        ssize_t n = recv(fd, buf, 32768, 0);
        struct nlmsghdr *h;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
                goto done;
            if (vmiSockDiagMatch(h, &st))
                *listening = TRUE;
        }
    }
 done:
    close(fd);
    return TRUE;
}
