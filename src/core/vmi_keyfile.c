/*
 * vmi_keyfile.c: the per-run file QEMU reads the key from
 *
 *   KEYDIR/                 root, 0711: QEMU's user may pass, not list
 *   KEYDIR/DOMAIN-UUID/     QEMU's user, 0700
 *   KEYDIR/DOMAIN-UUID/key  QEMU's user, 0600: the key's raw bytes
 *
 * Created just before QEMU starts, removed when it stops. Everything is
 * done relative to directory descriptors opened with O_NOFOLLOW, so a
 * symlink planted in KEYDIR cannot redirect the key elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/vmi_keyfile.h"
#include "core/vmi_fd.h"
#include "conf/vmi_domain_xml.h"
#include "conf/vmi_error.h"


static gboolean
vmiKeyFileFail(GError **error, const char *what, const char *path)
{
    int errsv = errno;

    g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot %s '%s': %s",
                what, path, g_strerror(errsv));
    return FALSE;
}


char *
vmiKeyFileDirPath(const char *keyDir, const char *domUUID)
{
    return g_build_filename(keyDir, domUUID, NULL);
}


char *
vmiKeyFilePath(const char *keyDir, const char *domUUID)
{
    return g_build_filename(keyDir, domUUID, VMI_KEY_FILE_NAME, NULL);
}


/* KEYDIR must be this process's (root's) own and closed to others' writes. */
gboolean
vmiKeyDirIsSafe(uid_t owner, mode_t mode)
{
    return owner == geteuid() && !(mode & 022);
}


/*
 * The UUID names a directory under KEYDIR: anything but the canonical
 * form (a '../victim' in a domain XML) could name another path.
 */
gboolean
vmiKeyFileCheckUUID(const char *domUUID, GError **error)
{
    /* NULL: a domain XML without <uuid> (found by tests/fuzz) */
    g_autofree char *canonical = domUUID ? vmiUUIDCanonical(domUUID) : NULL;
    g_autofree char *quoted = NULL;

    if (canonical && g_str_equal(canonical, domUUID))
        return TRUE;
    quoted = vmiErrorQuote(domUUID);
    g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                "invalid domain UUID '%s': expected a UUID in lower case such as "
                "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f", quoted);
    return FALSE;
}


static gboolean
vmiKeyFileRefuseTop(GError **error, const char *keyDir, const char *found)
{
    g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                "refusing key directory '%s': %s; expected a directory owned by "
                "uid %u, not writable by group or others, mode 0711 (remove it, or "
                "chown %u %s; chmod 0711 %s)",
                keyDir, found, (unsigned)geteuid(), (unsigned)geteuid(), keyDir, keyDir);
    return FALSE;
}


/*
 * KEYDIR, created if missing. One that is this process's (root's) and
 * not writable by others is ours: a wrong mode (0700 under umask 077,
 * 0755) is set back to 0711. Anything else (a symlink, another owner,
 * writable by others, who may have planted entries) is refused, with
 * what was found and what is expected.
 */
static int
vmiKeyFileOpenTop(const char *keyDir, gboolean create, GError **error)
{
    struct stat st;
    VMI_AUTOCLOSE fd = -1;

    if (create && g_mkdir_with_parents(keyDir, 0711) < 0 && errno != EEXIST) {
        vmiKeyFileFail(error, "create directory", keyDir);
        return -1;
    }
    if ((fd = open(keyDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        if ((errno == ENOTDIR || errno == ELOOP) && lstat(keyDir, &st) == 0) {
            g_autofree char *found = g_strdup_printf("it is a %s, not a directory",
                                                     S_ISLNK(st.st_mode) ? "symbolic link" :
                                                     "file");
            vmiKeyFileRefuseTop(error, keyDir, found);
        } else if (errno != ENOENT || create) {
            vmiKeyFileFail(error, "open directory", keyDir);
        }
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        vmiKeyFileFail(error, "look at directory", keyDir);
        return -1;
    }
    if (!vmiKeyDirIsSafe(st.st_uid, st.st_mode)) {
        g_autofree char *found = g_strdup_printf("owner uid %u, mode %04o",
                                                 (unsigned)st.st_uid,
                                                 (unsigned)(st.st_mode & 07777));
        vmiKeyFileRefuseTop(error, keyDir, found);
        return -1;
    }
    /* mkdir's mode is cut by the umask: under 077 QEMU's user could not
     * pass through to its key; 0755 would let others list the domains */
    if ((st.st_mode & 07777) != 0711 && fchmod(fd, 0711) < 0) {
        vmiKeyFileFail(error, "set the mode of directory", keyDir);
        return -1;
    }
    return g_steal_fd(&fd);
}


/* Removes DOMAIN-UUID/key and DOMAIN-UUID under @topfd, if there. */
static gboolean
vmiKeyFileRemoveAt(int topfd, const char *keyDir, const char *domUUID, GError **error)
{
    g_autofree char *path = vmiKeyFileDirPath(keyDir, domUUID);
    VMI_AUTOCLOSE dirfd = openat(topfd, domUUID, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (dirfd >= 0) {
        if (unlinkat(dirfd, VMI_KEY_FILE_NAME, 0) < 0 && errno != ENOENT)
            return vmiKeyFileFail(error, "remove the key file in", path);
    } else if (errno == ENOENT) {
        /* nothing there (a read-only file system would say EROFS below) */
        return TRUE;
    } else if (errno == ENOTDIR || errno == ELOOP) {
        /* not ours: something planted in its place */
        if (unlinkat(topfd, domUUID, 0) < 0)
            return vmiKeyFileFail(error, "remove", path);
        return TRUE;
    }
    if (unlinkat(topfd, domUUID, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return vmiKeyFileFail(error, "remove directory", path);
    return TRUE;
}


/* DOMAIN-UUID/ and DOMAIN-UUID/key under @topfd, with @key in it. */
static gboolean
vmiKeyFileCreateAt(int topfd, const char *keyDir, const char *domUUID, const vmiKey *key,
                   GError **error)
{
    g_autofree char *dirPath = vmiKeyFileDirPath(keyDir, domUUID);
    g_autofree char *filePath = vmiKeyFilePath(keyDir, domUUID);
    g_autoptr(GError) err = NULL;
    VMI_AUTOCLOSE dirfd = -1;
    VMI_AUTOCLOSE fd = -1;

    if (mkdirat(topfd, domUUID, 0700) < 0)
        return vmiKeyFileFail(error, "create directory", dirPath);
    /* explicit modes: the umask must not decide who reads the key */
    if ((dirfd = openat(topfd, domUUID, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        fchmod(dirfd, 0700) < 0)
        return vmiKeyFileFail(error, "set up directory", dirPath);
    if ((fd = openat(dirfd, VMI_KEY_FILE_NAME,
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
        fchmod(fd, 0600) < 0)
        return vmiKeyFileFail(error, "create", filePath);
    if (!vmiFdWriteAll(fd, key->data, key->len, &err)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot write '%s': %s",
                    filePath, err->message);
        return FALSE;
    }
    /* a full disk may show only here */
    if (close(g_steal_fd(&fd)) < 0)
        return vmiKeyFileFail(error, "write", filePath);
    return TRUE;
}


/*
 * Key directories of other domains left by a crash of the host, where
 * /run survives one (it is a tmpfs nearly everywhere): a key file lives
 * from a start's `prepare` to its `started`, so one older than the
 * current boot is stale, whoever's it was. Best effort: what cannot go
 * stays, unread, and is replaced when its domain starts.
 */
static void
vmiKeyFileSweep(int topfd, const char *keyDir, const char *domUUID)
{
    struct timespec now, up;
    g_autoptr(GDir) dir = NULL;
    g_autofree char *self = g_strdup_printf("/proc/self/fd/%d", topfd);
    const char *name;
    time_t boot;

    if (clock_gettime(CLOCK_REALTIME, &now) < 0 || clock_gettime(CLOCK_BOOTTIME, &up) < 0 ||
        !(dir = g_dir_open(self, 0, NULL)))
        return;
    boot = now.tv_sec - up.tv_sec;
    while ((name = g_dir_read_name(dir))) {
        struct stat st;

        if (g_str_equal(name, domUUID) || !vmiKeyFileCheckUUID(name, NULL) ||
            fstatat(topfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_mtime >= boot)
            continue;
        vmiKeyFileRemoveAt(topfd, keyDir, name, NULL);
    }
}


/*
 * The file and its directory are this process's (root's) until
 * vmiKeyFileChown hands them over: QEMU's user is known only later.
 */
gboolean
vmiKeyFileWrite(const char *keyDir, const char *domUUID, const vmiKey *key,
                GError **error)
{
    VMI_AUTOCLOSE topfd = -1;

    if (!vmiKeyFileCheckUUID(domUUID, error) ||
        (topfd = vmiKeyFileOpenTop(keyDir, TRUE, error)) < 0)
        return FALSE;
    vmiKeyFileSweep(topfd, keyDir, domUUID);
    /* a file a crash left behind is replaced, never reused */
    if (!vmiKeyFileRemoveAt(topfd, keyDir, domUUID, error))
        return FALSE;
    if (!vmiKeyFileCreateAt(topfd, keyDir, domUUID, key, error)) {
        vmiKeyFileRemoveAt(topfd, keyDir, domUUID, NULL);
        return FALSE;
    }
    return TRUE;
}


/* Applies @apply to DOMAIN-UUID/ then to its key file, opened without
 * following links; @what ("hand over") names the failing step. */
static gboolean
vmiKeyFileApplyBoth(const char *keyDir, const char *domUUID, const char *what,
                    int (*apply)(int fd, gconstpointer opaque), gconstpointer opaque,
                    GError **error)
{
    g_autofree char *dirPath = vmiKeyFileDirPath(keyDir, domUUID);
    g_autofree char *filePath = vmiKeyFilePath(keyDir, domUUID);
    g_autofree char *whatDir = g_strdup_printf("%s directory", what);
    VMI_AUTOCLOSE topfd = -1;
    VMI_AUTOCLOSE dirfd = -1;
    VMI_AUTOCLOSE fd = -1;

    if (!vmiKeyFileCheckUUID(domUUID, error))
        return FALSE;
    if ((topfd = vmiKeyFileOpenTop(keyDir, FALSE, error)) < 0) {
        if (error && !*error)
            vmiKeyFileFail(error, "open directory", keyDir);
        return FALSE;
    }
    if ((dirfd = openat(topfd, domUUID, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        apply(dirfd, opaque) < 0)
        return vmiKeyFileFail(error, whatDir, dirPath);
    if ((fd = openat(dirfd, VMI_KEY_FILE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        apply(fd, opaque) < 0)
        return vmiKeyFileFail(error, what, filePath);
    return TRUE;
}


typedef struct {
    uid_t uid;
    gid_t gid;
} vmiKeyFileOwner;


static int
vmiKeyFileApplyOwner(int fd, gconstpointer opaque)
{
    const vmiKeyFileOwner *owner = opaque;

    return fchown(fd, owner->uid, owner->gid);
}


/* Hands DOMAIN-UUID/ and its key file over to @uid:@gid. */
gboolean
vmiKeyFileChown(const char *keyDir, const char *domUUID, uid_t uid, gid_t gid,
                GError **error)
{
    vmiKeyFileOwner owner = { uid, gid };

    return vmiKeyFileApplyBoth(keyDir, domUUID, "hand over", vmiKeyFileApplyOwner, &owner,
                               error);
}


static int
vmiKeyFileApplyLabel(int fd, gconstpointer opaque)
{
    const char *label = opaque;

    return fsetxattr(fd, "security.selinux", label, strlen(label) + 1, 0);
}


/*
 * Gives the key file and its directory the domain's SELinux file label
 * (its <imagelabel>), as libvirt does to the domain's disks: a QEMU
 * confined as svirt_t with the domain's MCS category may then read them,
 * another domain's QEMU may not.
 */
gboolean
vmiKeyFileSetLabel(const char *keyDir, const char *domUUID, const char *label,
                   GError **error)
{
    g_autofree char *what = g_strdup_printf("give SELinux label '%s' to", label);

    return vmiKeyFileApplyBoth(keyDir, domUUID, what, vmiKeyFileApplyLabel, label, error);
}


gboolean
vmiKeyFileRemove(const char *keyDir, const char *domUUID, GError **error)
{
    g_autoptr(GError) err = NULL;
    VMI_AUTOCLOSE topfd = -1;

    if (!vmiKeyFileCheckUUID(domUUID, error))
        return FALSE;
    if ((topfd = vmiKeyFileOpenTop(keyDir, FALSE, &err)) < 0) {
        if (!err)       /* no directory: nothing to remove */
            return TRUE;
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }
    return vmiKeyFileRemoveAt(topfd, keyDir, domUUID, error);
}


gboolean
vmiKeyFileGetState(const char *keyDir, const char *domUUID,
                   vmiKeyFileState *state, GError **error)
{
    g_autofree char *dirPath = vmiKeyFileDirPath(keyDir, domUUID);
    g_autofree char *filePath = vmiKeyFilePath(keyDir, domUUID);
    struct stat st;

    memset(state, 0, sizeof(*state));
    if (!vmiKeyFileCheckUUID(domUUID, error))
        return FALSE;
    if (lstat(filePath, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return TRUE;
        return vmiKeyFileFail(error, "look at", filePath);
    }
    state->exists = TRUE;
    state->mode = st.st_mode & 07777;
    state->uid = st.st_uid;
    state->gid = st.st_gid;
    if (lstat(dirPath, &st) == 0)
        state->dirMode = st.st_mode & 07777;
    return TRUE;
}


static gboolean
vmiParseDACId(const char *str, gboolean isGroup, guint *id, GError **error)
{
    guint64 num;

    if (str[0] == '+') {
        if (g_ascii_string_to_unsigned(str + 1, 10, 0, G_MAXUINT32 - 1, &num, NULL)) {
            *id = num;
            return TRUE;
        }
    } else if (isGroup) {
        struct group *gr = getgrnam(str);
        if (gr) {
            *id = gr->gr_gid;
            return TRUE;
        }
    } else {
        struct passwd *pw = getpwnam(str);
        if (pw) {
            *id = pw->pw_uid;
            return TRUE;
        }
    }
    {
        g_autofree char *quoted = vmiErrorQuote(str);
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid %s '%s' in DAC label", isGroup ? "group" : "user", quoted);
    }
    return FALSE;
}


/* libvirt's DAC labels: "user:group", either part a name or +NUMBER. */
gboolean
vmiParseDACLabel(const char *label, uid_t *uid, gid_t *gid, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(label, ":", 2);
    guint u, g;

    if (g_strv_length(parts) != 2) {
        g_autofree char *quoted = vmiErrorQuote(label);
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid DAC label '%s': expected USER:GROUP", quoted);
        return FALSE;
    }
    if (!vmiParseDACId(parts[0], FALSE, &u, error) ||
        !vmiParseDACId(parts[1], TRUE, &g, error))
        return FALSE;
    *uid = u;
    *gid = g;
    return TRUE;
}
