/*
 * local.c - the machine pki runs on as a target: the same operations as
 * over SFTP, with the file system calls themselves, and the reload
 * command run by /bin/sh.  For single-host setups (disthost "localhost"
 * or one named by --local).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deploy.h"

/* errno as the connection's error, thread-safe; always -1. */
static int
sys_error(struct conn *c, const char *what, const char *path)
{
	char buf[128];
	int e = errno;

	return conn_error(c, "%s %s: %s", what, path,
	    strerror_r(e, buf, sizeof(buf)));
}

static int
l_lstat(struct conn *c, const char *path, struct dstat *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (lstat(path, &sb) == -1)
		return errno == ENOENT ? 0 : sys_error(c, "lstat", path);
	st->type = S_ISREG(sb.st_mode) ? 'f' : S_ISDIR(sb.st_mode) ? 'd' :
	    S_ISLNK(sb.st_mode) ? 'l' : '?';
	st->mode = sb.st_mode & 07777;
	st->uid = (long)sb.st_uid;
	st->gid = (long)sb.st_gid;
	return 0;
}

static int
l_mkdir(struct conn *c, const char *path, mode_t mode)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST)
		return sys_error(c, "mkdir", path);
	return 0;
}

static int
l_put(struct conn *c, const char *path, const struct dfile *f)
{
	int fd;

	/* Owner bits only until owner and group are right. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    f->mode & 0700);
	if (fd == -1)
		return sys_error(c, "create", path);
	if (pki_write_all(fd, f->data, f->len) == -1 || fsync(fd) == -1 ||
	    ((f->uid != -1 || f->gid != -1) &&
	    fchown(fd, (uid_t)f->uid, (gid_t)f->gid) == -1) ||
	    fchmod(fd, f->mode) == -1) {
		sys_error(c, "write", path);
		close(fd);
		return -1;
	}
	if (close(fd) == -1)
		return sys_error(c, "close", path);
	return 0;
}

static int
l_symlink(struct conn *c, const char *contents, const char *path)
{
	if (symlink(contents, path) == -1)
		return sys_error(c, "symlink", path);
	return 0;
}

/* Sync the directory of PATH, so that a rename in it lasts. */
static void
sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
	    (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
}

/* 1 if A and B are in the same directory. */
static int
same_dir(const char *a, const char *b)
{
	size_t la = (size_t)(strrchr(a, '/') - a);

	return la == (size_t)(strrchr(b, '/') - b) && strncmp(a, b, la) == 0;
}

/* The renames back to back, then each directory synced once. */
static int
l_renames(struct conn *c, size_t n, char *const from[], char *const to[])
{
	size_t i, j;

	for (i = 0; i < n; i++)
		if (rename(from[i], to[i]) == -1)
			return sys_error(c, "rename to", to[i]);
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && !same_dir(to[j], to[i]); j++)
			continue;
		if (j == i)
			sync_dir(to[i]);
	}
	return 0;
}

static int
l_unlink(struct conn *c, const char *path)
{
	if (unlink(path) == -1 && errno != ENOENT)
		return sys_error(c, "unlink", path);
	return 0;
}

static int
l_rmdir(struct conn *c, const char *path)
{
	if (rmdir(path) == -1 && errno != ENOENT)
		return sys_error(c, "rmdir", path);
	return 0;
}

static int
l_read(struct conn *c, const char *path, size_t max, char **out, size_t *len)
{
	char *buf;
	ssize_t n = 0;
	int fd;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return sys_error(c, "open", path);
	if ((buf = malloc(max + 1)) == NULL) {
		close(fd);
		return conn_error(c, "out of memory");
	}
	while (*len < max && (n = read(fd, buf + *len, max - *len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		*len += (size_t)n;
	}
	close(fd);
	buf[*len] = '\0';
	*out = buf;
	return n == -1 ? sys_error(c, "read", path) : 0;
}

static int
l_readlink(struct conn *c, const char *path, char **out)
{
	char buf[PATH_MAX];
	ssize_t n;

	if ((n = readlink(path, buf, sizeof(buf) - 1)) == -1)
		return sys_error(c, "readlink", path);
	buf[n] = '\0';
	if ((*out = strdup(buf)) == NULL)
		return conn_error(c, "out of memory");
	return 0;
}

/* Read what is there on FD (not blocking) into ERR (up to STDERR_MAX
 * kept): 1 if something was read, 0 if nothing was there, -1 at its
 * end. */
static int
collect(int fd, char *err, size_t *len)
{
	char buf[1024];
	ssize_t n;

	if ((n = read(fd, buf, sizeof(buf))) <= 0)
		return n == -1 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (*len < STDERR_MAX) {
		if ((size_t)n > STDERR_MAX - *len)
			n = (ssize_t)(STDERR_MAX - *len);
		memcpy(err + *len, buf, (size_t)n);
		*len += (size_t)n;
	}
	return 1;
}

/*
 * The child: CMD by /bin/sh in a process group of its own, stdin IN (or
 * /dev/null), stdout /dev/null, stderr to FD, and no other descriptor:
 * the workers of other hosts open sockets (libssh's are not
 * close-on-exec) and files while this one forks, and none of them may
 * live on in a command or a daemon it starts.  MAXFD bounds the
 * descriptors to close when close_range(2) is missing.  Only
 * async-signal-safe calls.
 */
static void
child(const char *cmd, char *const envp[], int in, int fd, long maxfd)
{
	char *const argv[] = { "sh", "-c", (char *)cmd, NULL };
	int null = open("/dev/null", O_RDWR);
	long i;

	setpgid(0, 0);
	if (null == -1 || dup2(in != -1 ? in : null, 0) == -1 ||
	    dup2(null, 1) == -1 || dup2(fd, 2) == -1)
		_exit(126);
	if (close_range(3, ~0U, 0) == -1)
		for (i = 3; i < maxfd; i++)
			close((int)i);
	if (envp != NULL)
		execve("/bin/sh", argv, envp);
	else
		execv("/bin/sh", argv);
	_exit(127);
}

/* Feed the child's stdin W from IN (LEN bytes, *OFF written so far);
 * its end closed once all is written or the child stopped reading. */
static void
feed(int *w, const char *in, size_t len, size_t *off)
{
	ssize_t n;

	if (*w == -1)
		return;
	if (*off < len) {
		n = write(*w, in + *off, len - *off);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n > 0)
			*off += (size_t)n;
		if (n > 0 && *off < len)
			return;
	}
	close(*w);
	*w = -1;
}

int
local_run(struct conn *c, const char *cmd, char *const envp[],
    const char *in, size_t inlen, long timeout, int *status, char **err)
{
	double deadline = pki_now() + (double)timeout;
	long maxfd = sysconf(_SC_OPEN_MAX);
	struct pollfd p[2];
	size_t len = 0, off = 0;
	int fds[2], ins[2] = { -1, -1 }, wst, open_ = 1, done = 0;
	pid_t pid;

	*status = -1;
	if ((*err = calloc(1, STDERR_MAX + 1)) == NULL)
		return conn_error(c, "out of memory");
	if (pipe2(fds, O_CLOEXEC) == -1)
		return sys_error(c, "run", cmd);
	if (in != NULL && pipe2(ins, O_CLOEXEC) == -1) {
		sys_error(c, "run", cmd);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		if (in != NULL) {
			close(ins[0]);
			close(ins[1]);
		}
		return sys_error(c, "run", cmd);
	}
	if (pid == 0)
		child(cmd, envp, ins[0], fds[1], maxfd > 0 && maxfd < 1048576 ?
		    maxfd : 1048576);
	close(fds[1]);
	if (in != NULL) {
		close(ins[0]);
		fcntl(ins[1], F_SETFL, O_NONBLOCK);
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	while (!done && pki_now() < deadline) {
		p[0] = (struct pollfd){ open_ ? fds[0] : -1, POLLIN, 0 };
		p[1] = (struct pollfd){ ins[1], POLLOUT, 0 };
		if (poll(p, 2, 50) > 0) {
			if (p[0].revents && collect(fds[0], *err, &len) == -1)
				open_ = 0;
			if (p[1].revents)
				feed(&ins[1], in, inlen, &off);
		}
		if (waitpid(pid, &wst, WNOHANG) == pid)
			done = 1;
	}
	/* What it wrote before it ended (a child it left running may
	 * keep the pipe open: do not wait for that). */
	while (done && open_ && collect(fds[0], *err, &len) == 1)
		continue;
	close(fds[0]);
	if (ins[1] != -1)
		close(ins[1]);
	if (!done) {
		kill(-pid, SIGKILL);
		waitpid(pid, &wst, 0);
		return conn_error(c, "timed out after %ld s: killed", timeout);
	}
	*status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
	return 0;
}

static int
l_run(struct conn *c, const char *cmd, long timeout, int *status,
    char **err)
{
	return local_run(c, cmd, NULL, NULL, 0, timeout, status, err);
}

static void
l_close(struct conn *c)
{
	(void)c;
}

static const struct conn_ops local_ops = {
	l_lstat, l_mkdir, l_put, l_symlink, l_renames, l_unlink, l_rmdir,
	l_read, l_readlink, l_run, l_close
};

struct conn *
local_open(void)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->ops = &local_ops;
	return c;
}
