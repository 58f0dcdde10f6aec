/*
 * record.c - cert records: one JSON object per line in, one per line out.
 *
 * Input is read with read(2) into a buffer of our own and output is written
 * with write(2) from one, so that every copy of a record (which may hold
 * private keys) lives in memory we wipe; stdio would keep copies in its
 * buffers.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"

struct pki_in {
	int		 fd;
	char		*buf;
	size_t		 cap;
	size_t		 start;		/* first unread byte */
	size_t		 end;		/* one past the last byte read */
	unsigned long	 lineno;
	int		 eof;
	int		 skipping;	/* inside an over-long line */
};

struct pki_in *
pki_in_open(int fd)
{
	struct pki_in *in;

	if ((in = calloc(1, sizeof(*in))) == NULL ||
	    (in->buf = malloc(64 * 1024)) == NULL) {
		free(in);
		pki_err("out of memory");
		return NULL;
	}
	in->fd = fd;
	in->cap = 64 * 1024;
	return in;
}

void
pki_in_close(struct pki_in *in)
{
	if (in == NULL)
		return;
	pki_wipe(in->buf, in->cap);
	free(in->buf);
	free(in);
}

/* Make room for more input: move unread bytes to the front, grow if full. */
static int
make_room(struct pki_in *in)
{
	size_t used = in->end - in->start;
	char *nbuf;

	if (in->start > 0) {
		memmove(in->buf, in->buf + in->start, used);
		pki_wipe(in->buf + used, in->end - used);
		in->start = 0;
		in->end = used;
	}
	if (in->end < in->cap)
		return 0;
	if ((nbuf = malloc(in->cap * 2)) == NULL) {
		pki_err("out of memory");
		return -1;
	}
	memcpy(nbuf, in->buf, in->end);
	pki_wipe(in->buf, in->cap);
	free(in->buf);
	in->buf = nbuf;
	in->cap *= 2;
	return 0;
}

static int
fill(struct pki_in *in)
{
	ssize_t n;

	if (make_room(in) == -1)
		return -2;
	do
		n = read(in->fd, in->buf + in->end, in->cap - in->end);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		pki_err("cannot read input: %s", strerror(errno));
		return -2;
	}
	if (n == 0)
		in->eof = 1;
	in->end += (size_t)n;
	return 0;
}

static int
only_space(const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r')) {
		s++;
		len--;
	}
	return len == 0;
}

/* The fields that name a record and its claim: what is kept of a record
 * too long to pass on. */
static const char *const identity[] = { "id", "name", "subject_type", "ca",
    "action", "instance", "errors", NULL };

/* REC reduced to its identity, with an error saying why (LEN bytes). */
static void
shrink(json_t *rec, size_t len)
{
	const char *key;
	json_t *v;
	void *tmp;
	size_t i;

	json_object_foreach_safe(rec, tmp, key, v) {
		for (i = 0; identity[i] != NULL; i++)
			if (strcmp(key, identity[i]) == 0)
				break;
		if (identity[i] == NULL)
			json_object_del(rec, key);
	}
	pki_rec_error(rec, NULL, "the record is %zu bytes, more than the %d a "
	    "record may have: only its name and claim are kept", len,
	    PKI_LINE_MAX);
}

/*
 * Every string of J (at PATH of REC) that holds a NUL character: the NUL
 * becomes the text "\\u0000" and the field gets an error, so that no C
 * string of the record is cut short unseen.
 */
static void
check_nul(json_t *rec, json_t *j, const char *path)
{
	char sub[256], *text;
	const char *key, *s;
	json_t *v;
	size_t i, k, len;

	if (json_is_object(j))
		json_object_foreach(j, key, v) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." :
			    "", key);
			check_nul(rec, v, sub);
		}
	else if (json_is_array(j))
		json_array_foreach(j, i, v) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			check_nul(rec, v, sub);
		}
	if (!json_is_string(j) || strlen(s = json_string_value(j)) ==
	    (len = json_string_length(j)) || (text = calloc(len + 1, 6)) == NULL)
		return;
	for (i = k = 0; i < len; i++) {
		if (s[i] != '\0')
			text[k++] = s[i];
		else {
			memcpy(text + k, "\\u0000", 6);
			k += 6;
		}
	}
	json_string_set(j, text);
	pki_free_secret(text);
	pki_rec_error(rec, path, "holds a NUL character (\\u0000)");
}

/* Parse one line (not NUL-terminated) into an object, or report why not.
 * 1 for a record, -1 for a line skipped. */
static int
parse_line(struct pki_in *in, char *line, size_t len, json_t **rec)
{
	json_error_t jerr;
	char *near;

	*rec = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    &jerr);
	pki_wipe(line, len);
	if (*rec == NULL) {
		/* jansson quotes the token "near" the error: it may be part
		 * of a key, so the message stops before it. */
		if ((near = strstr(jerr.text, " near ")) != NULL)
			*near = '\0';
		pki_err("line %lu: not JSON: %s at column %d, skipped",
		    in->lineno, jerr.text, jerr.column);
		return -1;
	}
	if (!json_is_object(*rec)) {
		json_decref(*rec);
		*rec = NULL;
		pki_err("line %lu: not a JSON object, skipped", in->lineno);
		return -1;
	}
	check_nul(*rec, *rec, "");
	if (len > PKI_LINE_MAX)
		shrink(*rec, len);
	return 1;
}

int
pki_in_next(struct pki_in *in, json_t **rec)
{
	char *line, *nl;
	size_t len;

	*rec = NULL;
	for (;;) {
		nl = memchr(in->buf + in->start, '\n', in->end - in->start);
		if (nl == NULL && !in->eof) {
			if (in->end - in->start > PKI_LINE_HARD) {
				/* Drop what we have; skip to the newline. */
				pki_wipe(in->buf, in->cap);
				in->start = in->end = 0;
				in->skipping = 1;
			}
			if (fill(in) == -2)
				return -2;
			continue;
		}
		if (nl == NULL && in->start == in->end && in->skipping) {
			/* An over-long last line without a newline. */
			in->skipping = 0;
			in->lineno++;
			pki_err("line %lu: longer than %d bytes, skipped",
			    in->lineno, PKI_LINE_HARD);
			return -1;
		}
		if (nl == NULL && in->start == in->end)
			return 0;	/* end of input */
		line = in->buf + in->start;
		len = nl != NULL ? (size_t)(nl - line) : in->end - in->start;
		in->start += len + (nl != NULL);
		in->lineno++;
		if (in->skipping || len > PKI_LINE_HARD) {
			in->skipping = 0;
			pki_wipe(line, len);
			pki_err("line %lu: longer than %d bytes, skipped",
			    in->lineno, PKI_LINE_HARD);
			return -1;
		}
		if (only_space(line, len))
			continue;
		return parse_line(in, line, len, rec);
	}
}

int
pki_in_ready(struct pki_in *in, int timeout_ms)
{
	struct pollfd pfd;

	if (in->eof || memchr(in->buf + in->start, '\n',
	    in->end - in->start) != NULL)
		return 1;
	pfd.fd = in->fd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, timeout_ms) != 0;
}

/* ------------------------------------------------------------ output */

static struct {
	char	*buf;
	size_t	 len;
	size_t	 cap;
} out;

static int
out_append(const char *s, size_t n, void *unused)
{
	size_t ncap;
	char *nbuf;

	(void)unused;
	if (out.len + n + 1 > out.cap) {
		ncap = out.cap ? out.cap : 16 * 1024;
		while (ncap < out.len + n + 1)
			ncap *= 2;
		if ((nbuf = malloc(ncap)) == NULL)
			return -1;
		if (out.buf != NULL) {
			memcpy(nbuf, out.buf, out.len);
			pki_wipe(out.buf, out.cap);
			free(out.buf);
		}
		out.buf = nbuf;
		out.cap = ncap;
	}
	memcpy(out.buf + out.len, s, n);
	out.len += n;
	return 0;
}

static int out_shrunk(const json_t *);

int
pki_out(const json_t *rec)
{
	size_t off;
	ssize_t n;
	int rc = 0;

	out.len = 0;
	if (json_dump_callback(rec, out_append, NULL, JSON_COMPACT) == -1 ||
	    out_append("\n", 1, NULL) == -1) {
		pki_err("cannot format record %s", pki_rec_name(rec));
		rc = -1;
	} else if (out.len > PKI_LINE_MAX + 1)
		return out_shrunk(rec);
	for (off = 0; rc == 0 && off < out.len; off += (size_t)n) {
		n = write(STDOUT_FILENO, out.buf + off, out.len - off);
		if (n == -1 && errno == EINTR)
			n = 0;
		else if (n == -1) {
			pki_err("cannot write output: %s", strerror(errno));
			rc = -1;
		}
	}
	pki_wipe(out.buf, out.len);
	return rc;
}

/* The longest identity field kept of a record whose identity alone is
 * too long to pass on. */
#define IDENTITY_FIELD_MAX	4096

/* REC, already reduced to its identity, without each field longer than
 * IDENTITY_FIELD_MAX, with an error saying so (LEN bytes). */
static void
shrink_hard(json_t *rec, size_t len)
{
	const char *key;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(rec, tmp, key, v)
		if (json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) >
		    IDENTITY_FIELD_MAX)
			json_object_del(rec, key);
	pki_rec_error(rec, NULL, "the record is %zu bytes even reduced to its "
	    "name and claim: only their fields shorter than %d bytes are kept",
	    len, IDENTITY_FIELD_MAX);
}

/* A record too long for the next stage goes on as its identity, with an
 * error, so that it is not lost as a line no reader takes; one whose
 * identity is still too long, as the short fields of it.  Each step
 * bounds what the next writes, so it ends. */
static int
out_shrunk(const json_t *rec)
{
	static int depth;
	json_t *copy;
	int rc;

	pki_wipe(out.buf, out.len);
	if ((copy = json_deep_copy(rec)) == NULL) {
		pki_err("out of memory");
		return -1;
	}
	if (depth == 0)
		shrink(copy, out.len - 1);
	else
		shrink_hard(copy, out.len - 1);
	depth++;
	rc = pki_out(copy);
	depth--;
	json_decref(copy);
	return rc;
}

void
pki_out_close(void)
{
	if (out.buf != NULL)
		pki_wipe(out.buf, out.cap);
	free(out.buf);
	out.buf = NULL;
	out.len = out.cap = 0;
}

/* ------------------------------------------------------------ records */

char *
pki_json_text(const json_t *j, size_t flags)
{
	size_t len;
	char *s;

	if ((len = json_dumpb(j, NULL, 0, flags)) == 0 ||
	    (s = malloc(len + 1)) == NULL)
		return NULL;
	json_dumpb(j, s, len, flags);
	s[len] = '\0';
	return s;
}

/* The length of the UTF-8 sequence that byte C starts, 0 if none. */
static size_t
utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

json_t *
pki_json_string(const char *s)
{
	json_t *j, *one;
	size_t len, i, n, k;
	char *t;

	if (s == NULL)
		s = "";
	if ((j = json_string(s)) != NULL)
		return j;
	len = strlen(s);
	if ((t = malloc(len + 1)) == NULL)
		return NULL;
	/* Each sequence as jansson judges it (overlong forms, surrogates
	 * and all); what it refuses, or what is cut short, is a "?". */
	for (i = k = 0; i < len; i += n) {
		n = utf8_len((unsigned char)s[i]);
		if (n > 1 && i + n <= len &&
		    (one = json_stringn(s + i, n)) != NULL) {
			json_decref(one);
			memcpy(t + k, s + i, n);
			k += n;
			continue;
		}
		t[k++] = n == 1 ? s[i] : '?';
		n = 1;
	}
	j = json_stringn(t, k);
	free(t);
	return j;
}

const char *
pki_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

const char *
pki_rec_name(const json_t *rec)
{
	const char *name = pki_str(rec, "name");

	return name != NULL && *name != '\0' ? name : "(unnamed)";
}

int
pki_rec_failed(const json_t *rec)
{
	json_t *errors = json_object_get(rec, "errors");

	if (errors == NULL || json_is_null(errors))
		return 0;
	return !json_is_array(errors) || json_array_size(errors) > 0;
}

/*
 * The same error on record after record (a CA that cannot be loaded, say)
 * is reported for the first few only, then counted.
 */
#define SAME_SHOWN	3
static char last_error[1100];
static unsigned long same_errors;
static unsigned long all_errors;	/* errors added by this process */

unsigned long
pki_rec_error_count(void)
{
	return all_errors;
}

void
pki_rec_error_summary(void)
{
	if (same_errors > SAME_SHOWN)
		pki_err("... and %lu more records with the error \"%s\"",
		    same_errors - SAME_SHOWN, last_error);
	same_errors = 0;
	last_error[0] = '\0';
}

static void
report_error(const json_t *rec, const char *field, const char *msg)
{
	char text[sizeof(last_error)];

	snprintf(text, sizeof(text), "%s%s%s", field ? field : "",
	    field ? ": " : "", msg);
	if (strcmp(text, last_error) != 0) {
		pki_rec_error_summary();
		snprintf(last_error, sizeof(last_error), "%s", text);
	}
	/* A name is at most 253 bytes; a record may bring a longer one. */
	if (++same_errors <= SAME_SHOWN)
		pki_err("%.256s: %s", pki_rec_name(rec), text);
}

int
pki_rec_error(json_t *rec, const char *field, const char *fmt, ...)
{
	json_t *errors, *e, *old;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report_error(rec, field, msg);
	all_errors++;

	errors = json_object_get(rec, "errors");
	if (!json_is_array(errors)) {
		/* Keep whatever was there: errors are never replaced. */
		old = errors != NULL && !json_is_null(errors) ?
		    json_incref(errors) : NULL;
		errors = json_array();
		if (old != NULL)
			json_array_append_new(errors, old);
		json_object_set_new(rec, "errors", errors);
	}
	e = json_pack("{s:s, s:o}", "stage", pki_progname(), "message",
	    pki_json_string(msg));
	if (e != NULL && field != NULL)
		json_object_set_new(e, "field", json_string(field));
	if (e != NULL)
		json_array_append_new(errors, e);
	return -1;
}

json_t *
pki_rec_object(json_t *rec, const char *key)
{
	json_t *o = json_object_get(rec, key);

	if (o == NULL || json_is_null(o)) {
		o = json_object();
		json_object_set_new(rec, key, o);
	}
	if (!json_is_object(o)) {
		pki_rec_error(rec, key, "must be an object");
		return NULL;
	}
	return o;
}

int
pki_rec_keyless(const json_t *rec)
{
	return json_is_true(json_object_get(rec, "keyless")) &&
	    json_object_size(json_object_get(rec, "csr")) > 0 &&
	    json_object_size(json_object_get(rec, "key")) == 0;
}

int
pki_filter(int (*act)(json_t *rec, void *ctx), void *ctx)
{
	struct pki_in *in;
	json_t *rec;
	unsigned long errors = pki_rec_error_count();
	int r, status = PKI_EXIT_OK;

	if ((in = pki_in_open(STDIN_FILENO)) == NULL)
		return PKI_EXIT_FATAL;
	while ((r = pki_in_next(in, &rec)) != 0) {
		if (pki_rec_error_count() != errors)
			status = PKI_EXIT_RECORD;	/* read, but not whole */
		if (r == -2) {
			status = PKI_EXIT_FATAL;
			break;
		}
		if (r == -1) {
			status = PKI_EXIT_RECORD;
			continue;
		}
		if (!pki_rec_failed(rec) && act(rec, ctx) == -1)
			status = PKI_EXIT_RECORD;
		r = pki_out(rec);
		json_decref(rec);
		if (r == -1) {
			status = PKI_EXIT_FATAL;
			break;
		}
	}
	pki_in_close(in);
	pki_out_close();
	/* The last record may have been written in part (too long). */
	if (status == PKI_EXIT_OK && pki_rec_error_count() != errors)
		status = PKI_EXIT_RECORD;
	return status;
}

int
pki_stage_main(int argc, char *argv[], const char *usage,
    int (*act)(json_t *rec, void *ctx), void *ctx)
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 }
	};

	pki_init(argv[0]);
	if (pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage) != -1 || optind != argc)
		pki_usage(usage);
	return pki_filter(act, ctx);
}
