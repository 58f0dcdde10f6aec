/*
 * http01.c - serving the key authorizations of http-01 challenges
 * (RFC 8555 8.3) while pki-acme finish runs: files under a web server's
 * document root (--http-root), or a small HTTP/1.1 responder of its own
 * (--http-listen) in a child process.
 *
 * The responder answers GET /.well-known/acme-challenge/TOKEN for the
 * tokens it was given with the key authorization, 404 for any other
 * path, 405 for other methods, 400 for what is not an HTTP request.  A
 * request must arrive within 5 s and fit in 8 KiB; one connection at a
 * time, closed after the answer.  It runs in a thread of its own, which
 * only reads the token map, until http01_stop() wakes it through a pipe.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acme.h"

#define WELL_KNOWN	"/.well-known/acme-challenge/"
#define REQUEST_MAX	8192
#define REQUEST_MS	5000

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
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, 16) == -1) {
		pki_err("--http-listen %s: %s", addrport, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Read the request head (up to the empty line) into BUF; its length, or
 * -1 if it does not come in time or in size, or STOP becomes readable. */
static ssize_t
read_request(int fd, int stop, char *buf, size_t size)
{
	struct pollfd pfd[2] = { { fd, POLLIN, 0 }, { stop, POLLIN, 0 } };
	double end = pki_now() + REQUEST_MS / 1000.0;
	size_t len = 0;
	ssize_t n;
	int ms;

	while (len < size - 1) {
		ms = (int)((end - pki_now()) * 1000);
		if (ms <= 0 || poll(pfd, 2, ms) <= 0 || pfd[1].revents != 0)
			return -1;
		if ((n = read(fd, buf + len, size - 1 - len)) <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n"))
			return (ssize_t)len;
	}
	return -1;
}

/* Write the whole of S (best effort: the client may be gone). */
static void
send_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, s, len)) == -1 && errno == EINTR)
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

/* Answer one connection. */
static void
serve(int fd, int stop, const json_t *tokens)
{
	char buf[REQUEST_MAX], *sp, *path, *ver;
	const char *keyauth;

	if (read_request(fd, stop, buf, sizeof(buf)) == -1) {
		respond(fd, 400, "Bad Request", "bad request\n");
		return;
	}
	buf[strcspn(buf, "\r\n")] = '\0';	/* the request line */
	if ((sp = strchr(buf, ' ')) == NULL ||
	    (ver = strchr(sp + 1, ' ')) == NULL ||
	    strncmp(ver + 1, "HTTP/1.", 7) != 0) {
		respond(fd, 400, "Bad Request", "bad request\n");
		return;
	}
	*sp = *ver = '\0';
	path = sp + 1;
	if (strcmp(buf, "GET") != 0) {
		respond(fd, 405, "Method Not Allowed", "GET only\n");
		return;
	}
	keyauth = strncmp(path, WELL_KNOWN, strlen(WELL_KNOWN)) == 0 &&
	    b64u_valid(path + strlen(WELL_KNOWN)) ? pki_str(tokens,
	    path + strlen(WELL_KNOWN)) : NULL;
	if (keyauth == NULL)
		respond(fd, 404, "Not Found", "not found\n");
	else
		respond(fd, 200, "OK", keyauth);
}

/* The responder's thread: serve until the stop pipe is readable. */
static void *
responder(void *arg)
{
	struct http01 *h = arg;
	struct pollfd pfd[2] = { { h->fd, POLLIN, 0 }, { h->stop[0], POLLIN, 0 } };
	int fd, n;

	for (;;) {
		if ((n = poll(pfd, 2, -1)) == -1 && errno == EINTR)
			continue;
		if (n == -1 || pfd[1].revents != 0)
			break;
		if (!(pfd[0].revents & POLLIN) ||
		    (fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		serve(fd, h->stop[0], h->tokens);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

int
http01_listen(struct http01 *h, const char *addrport, json_t *tokens)
{
	int e;

	if ((h->fd = listen_on(addrport)) == -1)
		return -1;
	if (pipe2(h->stop, O_CLOEXEC) == -1) {
		pki_err("--http-listen: pipe: %s", strerror(errno));
		close(h->fd);
		h->fd = -1;
		return -1;
	}
	h->tokens = json_incref(tokens);
	if ((e = pthread_create(&h->thread, NULL, responder, h)) != 0) {
		pki_err("--http-listen: thread: %s", strerror(e));
		http01_stop(h);
		return -1;
	}
	h->running = 1;
	pki_info("serving %zu http-01 token(s) on %s", json_object_size(tokens),
	    addrport);
	return 0;
}

/* mkdir DIR unless it exists; 0 / -1 (reported). */
static int
make_dir(const char *dir)
{
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
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

	if (h->running) {
		while (write(h->stop[1], "", 1) == -1 && errno == EINTR)
			;
		pthread_join(h->thread, NULL);
	}
	if (h->fd != -1)
		close(h->fd);
	if (h->stop[0] != -1) {
		close(h->stop[0]);
		close(h->stop[1]);
	}
	json_decref(h->tokens);
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
	h->fd = h->stop[0] = h->stop[1] = -1;
}
