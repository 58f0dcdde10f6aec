/*
 * http01.c - serving the key authorizations of http-01 challenges
 * (RFC 8555 8.3) while pki-acme finish runs: files under a web server's
 * document root (--http-root), or a small HTTP/1.1 responder of its own
 * (--http-listen) in a process of its own.
 *
 * The responder answers GET /.well-known/acme-challenge/TOKEN for the
 * tokens it was given with the key authorization, 404 for any other
 * path, 405 for other methods, 400 for what is not an HTTP request or
 * is longer than 8 KiB.  It serves up to CONN_MAX connections at once
 * from one poll() loop; each must send its request within 2 s of being
 * accepted, and when all are taken the oldest is dropped, so that idle
 * connections cannot keep the CA's request waiting.  Each connection is
 * closed after its answer.
 *
 * pki-acme binds the socket (port 80 may need root), then forks and
 * executes itself as "pki-acme http01-serve": a new image, which holds
 * no account key, the socket as descriptor 3 and a pipe as its standard
 * input, on which it reads the tokens and then waits for the end that
 * stops it (pki-acme closing it, or dying).  Started as root, the child
 * becomes --http-user (nobody) before the exec: the code that reads what
 * the network sends never runs as root.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acme.h"

#define WELL_KNOWN	"/.well-known/acme-challenge/"
#define REQUEST_MAX	8192
#define REQUEST_SECS	2.0	/* from accept to the end of the request */
#define CONN_MAX	64	/* connections served at once */
#define LISTEN_FD	3	/* the responder's listening socket */

/* One connection of the responder. */
struct conn {
	int	 fd;		/* -1: a free slot */
	double	 accepted;	/* pki_now() of accept */
	size_t	 len;
	char	 buf[REQUEST_MAX];
};

/* A listening socket on ADDR:PORT ("127.0.0.1:80", "[::1]:80"); -1
 * (reported) if it cannot be made. */
static int
listen_on(const char *addrport)
{
	struct addrinfo hints, *ai = NULL;
	char host[256], *colon;
	const char *h = host;
	int fd = -1, one = 1, e;

	snprintf(host, sizeof(host), "%s", addrport);
	if ((colon = strrchr(host, ':')) == NULL || colon[1] == '\0') {
		pki_err("--http-listen %s: not ADDR:PORT", addrport);
		return -1;
	}
	*colon = '\0';
	if (host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		h = host + 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(h, colon + 1, &hints, &ai)) != 0) {
		pki_err("--http-listen %s: %s", addrport, gai_strerror(e));
		return -1;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, CONN_MAX) == -1) {
		pki_err("--http-listen %s: %s", addrport, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Write the whole of S (best effort: the client may be gone). */
static void
send_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, s, len, MSG_NOSIGNAL)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void
respond(int fd, int code, const char *reason, const char *body)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n", code, reason, code == 200 ?
	    "application/octet-stream" : "text/plain", strlen(body),
	    code == 405 ? "Allow: GET\r\n" : "");
	send_all(fd, head, (size_t)n);
	send_all(fd, body, strlen(body));
}

int
http01_reply(char *buf, const json_t *tokens, const char **reason,
    const char **body)
{
	char *sp, *path, *ver;
	const char *keyauth;

	buf[strcspn(buf, "\r\n")] = '\0';	/* the request line */
	if ((sp = strchr(buf, ' ')) == NULL ||
	    (ver = strchr(sp + 1, ' ')) == NULL ||
	    strncmp(ver + 1, "HTTP/1.", 7) != 0) {
		*reason = "Bad Request";
		*body = "bad request\n";
		return 400;
	}
	*sp = *ver = '\0';
	path = sp + 1;
	if (strcmp(buf, "GET") != 0) {
		*reason = "Method Not Allowed";
		*body = "GET only\n";
		return 405;
	}
	keyauth = strncmp(path, WELL_KNOWN, strlen(WELL_KNOWN)) == 0 &&
	    b64u_valid(path + strlen(WELL_KNOWN)) ? pki_str(tokens,
	    path + strlen(WELL_KNOWN)) : NULL;
	if (keyauth == NULL) {
		*reason = "Not Found";
		*body = "not found\n";
		return 404;
	}
	*reason = "OK";
	*body = keyauth;
	return 200;
}

/* Answer the request head in BUF (NUL-terminated), which it changes. */
static void
answer(int fd, char *buf, const json_t *tokens)
{
	const char *reason, *body;
	int code;

	code = http01_reply(buf, tokens, &reason, &body);
	respond(fd, code, reason, body);
}

/* Close connection C and free its slot. */
static void
conn_close(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Read what connection C sent; answer and close it once its request
 * head is complete, or is too long; close it at the end of input. */
static void
conn_read(struct conn *c, const json_t *tokens)
{
	ssize_t n;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (strstr(c->buf, "\r\n\r\n") != NULL ||
	    strstr(c->buf, "\n\n") != NULL)
		answer(c->fd, c->buf, tokens);
	else if (c->len == sizeof(c->buf) - 1)
		respond(c->fd, 400, "Bad Request", "bad request\n");
	else
		return;
	conn_close(c);
}

/* Accept a connection into a free slot of CONNS, or the oldest one's. */
static void
conn_accept(int lfd, struct conn *conns)
{
	struct conn *c = NULL;
	size_t i;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) ==
	    -1)
		return;
	for (i = 0; i < CONN_MAX; i++) {
		if (conns[i].fd == -1) {
			c = &conns[i];
			break;
		}
		if (c == NULL || conns[i].accepted < c->accepted)
			c = &conns[i];
	}
	if (c->fd != -1)
		conn_close(c);	/* all taken: the oldest goes */
	c->fd = fd;
	c->accepted = pki_now();
	c->len = 0;
}

/* Close the connections whose time is up; the ms until the next one's
 * is, -1 if none is open. */
static int
conn_expire(struct conn *conns)
{
	double now = pki_now(), end, next = -1;
	size_t i;

	for (i = 0; i < CONN_MAX; i++) {
		if (conns[i].fd == -1)
			continue;
		end = conns[i].accepted + REQUEST_SECS;
		if (end <= now)
			conn_close(&conns[i]);
		else if (next < 0 || end < next)
			next = end;
	}
	return next < 0 ? -1 : (int)((next - now) * 1000) + 1;
}

/* Serve TOKENS on the listening socket LFD until STOP (the reading end
 * of a pipe) is readable or closed.  0 / -1 (reported). */
static int
serve(int lfd, int stop, const json_t *tokens)
{
	struct pollfd pfd[2 + CONN_MAX];
	struct conn *conns;
	size_t i, slot[CONN_MAX], n;
	int ms, ready;

	if ((conns = calloc(CONN_MAX, sizeof(*conns))) == NULL) {
		pki_err("http-01 responder: out of memory");
		return -1;
	}
	for (i = 0; i < CONN_MAX; i++)
		conns[i].fd = -1;
	for (;;) {
		ms = conn_expire(conns);
		pfd[0] = (struct pollfd){ stop, POLLIN, 0 };
		pfd[1] = (struct pollfd){ lfd, POLLIN, 0 };
		for (i = 0, n = 0; i < CONN_MAX; i++)
			if (conns[i].fd != -1) {
				slot[n] = i;
				pfd[2 + n++] = (struct pollfd){ conns[i].fd,
				    POLLIN, 0 };
			}
		if ((ready = poll(pfd, 2 + n, ms)) == -1 && errno == EINTR)
			continue;
		if (ready == -1 || pfd[0].revents != 0)
			break;
		for (i = 0; i < n; i++)
			if (pfd[2 + i].revents != 0)
				conn_read(&conns[slot[i]], tokens);
		if (pfd[1].revents & POLLIN)
			conn_accept(lfd, conns);
	}
	for (i = 0; i < CONN_MAX; i++)
		if (conns[i].fd != -1)
			close(conns[i].fd);
	free(conns);
	return 0;
}

int
http01_serve(void)
{
	json_error_t jerr;
	json_t *tokens;
	int rc;

	if (fcntl(LISTEN_FD, F_GETFD) == -1 || isatty(STDIN_FILENO)) {
		pki_err("http01-serve: run by pki-acme finish --http-listen, "
		    "not by hand");
		return PKI_EXIT_FATAL;
	}
	/* One JSON object, then nothing until the end. */
	if ((tokens = json_loadfd(STDIN_FILENO, JSON_DISABLE_EOF_CHECK,
	    &jerr)) == NULL || !json_is_object(tokens)) {
		pki_err("http01-serve: the tokens: %s", tokens == NULL ?
		    jerr.text : "not an object");
		json_decref(tokens);
		return PKI_EXIT_FATAL;
	}
	rc = serve(LISTEN_FD, STDIN_FILENO, tokens);
	json_decref(tokens);
	return rc == 0 ? 0 : PKI_EXIT_FATAL;
}

/* An int from FD into V: 0, or -1 at its end (or on an error). */
static int
read_int(int fd, int *v)
{
	ssize_t n;

	while ((n = read(fd, v, sizeof(*v))) == -1 && errno == EINTR)
		;
	return n == sizeof(*v) ? 0 : -1;
}

/* What the child of http01_listen() was doing when it failed. */
static const char *const child_steps[] = {
	"set up its descriptors", "become --http-user", "execute pki-acme"
};

/* In the child of http01_listen(): LFD as descriptor 3, IN as standard
 * input, /dev/null as standard output, every other descriptor above
 * them closed by the exec; PW's user and group if PW is set; then
 * pki-acme http01-serve.  On failure the step and errno go to REPORT.
 * Only async-signal-safe calls: the parent may have threads. */
static void
child(int lfd, int in, int report, const struct passwd *pw)
{
	char *const argv[] = { "pki-acme", "http01-serve", NULL };
	int step = 0, e, null, exe;

	/* Above the descriptors they are to become first, so that no dup2()
	 * overwrites another; the program is opened while its directories
	 * can still be searched (a checkout in /root is closed to nobody). */
	if ((e = fcntl(report, F_DUPFD_CLOEXEC, 10)) != -1)
		report = e;
	if ((lfd = fcntl(lfd, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    (in = fcntl(in, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    dup2(in, STDIN_FILENO) == -1 || dup2(lfd, LISTEN_FD) == -1 ||
	    (null = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1 ||
	    dup2(null, STDOUT_FILENO) == -1 ||
	    (exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) == -1 ||
	    close_range(LISTEN_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
		goto fail;
	step = 1;
	if (pw != NULL && (setgroups(1, &pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1))
		goto fail;
	if (pw != NULL && setuid(0) != -1) {
		errno = EPERM;	/* root could come back */
		goto fail;
	}
	step = 2;
	fexecve(exe, argv, environ);
fail:
	e = errno;
	if (write(report, &step, sizeof(step)) == sizeof(step))
		(void)!write(report, &e, sizeof(e));
	_exit(127);
}

int
http01_listen(struct http01 *h, const char *addrport, const char *user,
    json_t *tokens)
{
	struct passwd *pw = NULL;
	char *text = NULL;
	int in[2] = { -1, -1 }, rep[2] = { -1, -1 }, step, e, rc = -1;

	if (geteuid() == 0 && (pw = getpwnam(user)) == NULL) {
		pki_err("--http-user %s: no such user", user);
		return -1;
	}
	if ((h->fd = listen_on(addrport)) == -1)
		return -1;
	if ((text = pki_json_text(tokens, JSON_COMPACT)) == NULL ||
	    pipe2(in, O_CLOEXEC) == -1 || pipe2(rep, O_CLOEXEC) == -1 ||
	    (h->pid = fork()) == -1) {
		pki_err("--http-listen: %s", text == NULL ? "out of memory" :
		    strerror(errno));
		goto out;
	}
	if (h->pid == 0)
		child(h->fd, in[0], rep[1], pw);
	close(rep[1]);
	rep[1] = -1;
	h->stop = in[1];
	in[1] = -1;
	if (read_int(rep[0], &step) == 0) {	/* it failed, and says where */
		if (read_int(rep[0], &e) == -1)
			e = 0;
		pki_err("--http-listen: the responder could not %s%s%s",
		    child_steps[step < 0 || step > 2 ? 0 : step],
		    e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
	} else if (pki_write_all(h->stop, text, strlen(text)) == -1)
		pki_err("--http-listen: the responder: %s", strerror(errno));
	else {
		pki_info("serving %zu http-01 token(s) on %s%s%s",
		    json_object_size(tokens), addrport,
		    pw != NULL ? " as " : "", pw != NULL ? user : "");
		rc = 0;
	}
out:
	free(text);
	close(h->fd);	/* the responder has it */
	h->fd = -1;
	for (e = 0; e < 2; e++) {
		if (in[e] != -1)
			close(in[e]);
		if (rep[e] != -1)
			close(rep[e]);
	}
	return rc;
}

/* mkdir DIR unless it exists, with mode 0755 whatever the umask (the
 * web server must enter it); one that exists is left as it is.  0 / -1
 * (reported). */
static int
make_dir(const char *dir)
{
	if (mkdir(dir, 0755) == -1) {
		if (errno == EEXIST)
			return 0;
		pki_err("%s: %s", dir, strerror(errno));
		return -1;
	}
	if (chmod(dir, 0755) == -1) {
		pki_err("%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
http01_webroot(struct http01 *h, const char *root, json_t *tokens)
{
	const char *token;
	json_t *v;
	char path[4096];

	if ((h->root = xstrdup(root)) == NULL)
		return -1;
	h->written = json_array();
	snprintf(path, sizeof(path), "%s/.well-known", root);
	if (make_dir(path) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s" WELL_KNOWN, root);
	path[strlen(path) - 1] = '\0';
	if (make_dir(path) == -1)
		return -1;
	/* pki_write_file() sets the mode exactly: 0644, whatever the umask. */
	json_object_foreach(tokens, token, v) {
		if ((size_t)snprintf(path, sizeof(path), "%s" WELL_KNOWN "%s",
		    root, token) >= sizeof(path) ||
		    pki_write_file(path, json_string_value(v),
		    json_string_length(v), 0644) == -1)
			return -1;
		json_array_append_new(h->written, json_string(path));
	}
	pki_info("wrote %zu http-01 token(s) under %s" WELL_KNOWN,
	    json_object_size(tokens), root);
	return 0;
}

void
http01_stop(struct http01 *h)
{
	json_t *v;
	size_t i;
	int st;

	if (h->stop != -1)
		close(h->stop);	/* the responder's end: it exits */
	if (h->pid > 0)
		while (waitpid(h->pid, &st, 0) == -1 && errno == EINTR)
			;
	if (h->fd != -1)
		close(h->fd);
	json_array_foreach(h->written, i, v)
		if (unlink(json_string_value(v)) == -1 && errno != ENOENT)
			pki_warn("%s: %s", json_string_value(v),
			    strerror(errno));
	json_decref(h->written);
	free(h->root);
	http01_init(h);
}

void
http01_init(struct http01 *h)
{
	memset(h, 0, sizeof(*h));
	h->fd = h->stop = -1;
}
