/*
 * test-common.c - unit tests of common/, TAP on stdout.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki.h"

static int tests, failures;

static void
ok(int cond, const char *what)
{
	tests++;
	if (!cond)
		failures++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
	fflush(stdout);
}

static char dir[] = "/tmp/pki-unit.XXXXXX";

/* A reader over a file holding TEXT. */
static struct pki_in *
reader(const char *text, size_t len)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "%s/in", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (write(fd, text, len) != (ssize_t)len)
		abort();
	lseek(fd, 0, SEEK_SET);
	return pki_in_open(fd);
}

static void
test_reader(void)
{
	const char text[] = "{\"name\":\"a\",\"x\":{\"unknown\":[1,2]}}\n"
	    "not json {\"key\":\"-----BEGIN PRIVATE KEY-----abc\"}\n"
	    "[1,2]\n"
	    "\n"
	    "   \n"
	    "{\"name\":\"b\",\"name\":\"c\"}\n"
	    "{\"name\":\"last\"}";
	struct pki_in *in = reader(text, sizeof(text) - 1);
	json_t *rec;

	ok(pki_in_next(in, &rec) == 1 && strcmp(pki_rec_name(rec), "a") == 0,
	    "reads a record");
	ok(json_integer_value(json_array_get(json_object_get(
	    json_object_get(rec, "x"), "unknown"), 1)) == 2,
	    "keeps unknown fields");
	json_decref(rec);
	ok(pki_in_next(in, &rec) == -1 && rec == NULL, "rejects a bad line");
	ok(pki_in_next(in, &rec) == -1, "rejects a line that is no object");
	ok(pki_in_next(in, &rec) == -1, "rejects duplicate keys (blank lines "
	    "skipped)");
	ok(pki_in_next(in, &rec) == 1 && strcmp(pki_rec_name(rec), "last") == 0,
	    "reads a last line without newline");
	json_decref(rec);
	ok(pki_in_next(in, &rec) == 0, "end of input");
	pki_in_close(in);
}

static void
test_long_line(void)
{
	size_t len = PKI_LINE_MAX + 100;
	char *text = malloc(len + 32);
	struct pki_in *in;
	json_t *rec;

	text[0] = '"';
	memset(text + 1, 'x', len - 2);
	text[len - 1] = '"';
	strcpy(text + len, "\n{\"name\":\"after\"}\n");
	in = reader(text, strlen(text));
	ok(pki_in_next(in, &rec) == -1, "skips a line longer than the limit");
	ok(pki_in_next(in, &rec) == 1 && strcmp(pki_rec_name(rec),
	    "after") == 0, "goes on after the long line");
	json_decref(rec);
	pki_in_close(in);

	/* The same line last, without its newline: still reported. */
	text[len] = '\0';
	in = reader(text, len);
	ok(pki_in_next(in, &rec) == -1, "an over-long last line without "
	    "newline is reported, not taken for the end");
	ok(pki_in_next(in, &rec) == 0, "then the end of input");
	pki_in_close(in);
	free(text);
}

static void
test_output(void)
{
	json_t *rec = json_pack("{s:s, s:{s:[i,s]}, s:b}", "name", "a.test",
	    "future", "field", 1, "é", "flag", 1), *back;
	char path[64], *text;
	int fd, saved, written;

	snprintf(path, sizeof(path), "%s/out", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved = dup(STDOUT_FILENO);
	fflush(stdout);
	dup2(fd, STDOUT_FILENO);
	written = pki_out(rec) == 0;
	dup2(saved, STDOUT_FILENO);
	ok(written, "writes a record");
	close(saved);
	close(fd);
	text = pki_read_file(path, 4096);
	ok(text != NULL && strchr(text, '\n') == text + strlen(text) - 1,
	    "one line, newline-terminated");
	back = json_loads(text, 0, NULL);
	ok(json_equal(rec, back), "round trip keeps every field");
	ok(strstr(text, ": ") == NULL && strstr(text, ", ") == NULL,
	    "compact");
	json_decref(back);
	json_decref(rec);
	free(text);
}

/* Strings of any bytes become JSON strings; what is not UTF-8, "?". */
static void
test_json_string(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" }, { "\xc3\xbc ok", "\xc3\xbc ok" },
		{ "cut \xc3", "cut ?" }, { "latin1 \xfc!", "latin1 ?!" },
		{ "\xe2\x82", "??" }, { "overlong \xc0\xaf", "overlong ??" },
		{ "surrogate \xed\xa0\x80", "surrogate ???" },
		{ "ctl \x01\n", "ctl \x01\n" },
	};
	json_t *j;
	size_t i;
	int good = 1;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = pki_json_string(cases[i].in);
		if (j == NULL || strcmp(json_string_value(j), cases[i].out) != 0)
			good = 0;
		json_decref(j);
	}
	ok(good, "pki_json_string: any bytes, what is not UTF-8 a \"?\"");
	j = pki_json_string(NULL);
	ok(j != NULL && strcmp(json_string_value(j), "") == 0,
	    "pki_json_string(NULL): \"\"");
	json_decref(j);
	j = json_object();
	pki_rec_error(j, "f", "a message cut in a character: \xc3");
	ok(json_array_size(json_object_get(j, "errors")) == 1,
	    "pki_rec_error keeps an error whose text is not UTF-8");
	json_decref(j);
}

static void
test_errors(void)
{
	json_t *rec = json_pack("{s:s}", "name", "e.test"), *e;

	ok(!pki_rec_failed(rec), "a fresh record has not failed");
	ok(pki_rec_error(rec, "algos", "bad %s", "thing") == -1,
	    "pki_rec_error returns -1");
	pki_rec_error(rec, NULL, "second");
	e = json_object_get(rec, "errors");
	ok(json_array_size(e) == 2 && pki_rec_failed(rec),
	    "errors are appended");
	ok(strcmp(pki_str(json_array_get(e, 0), "stage"), "test-common") == 0 &&
	    strcmp(pki_str(json_array_get(e, 0), "field"), "algos") == 0 &&
	    strcmp(pki_str(json_array_get(e, 0), "message"), "bad thing") == 0,
	    "an error names stage, field and message");
	ok(json_object_get(json_array_get(e, 1), "field") == NULL,
	    "the field is optional");
	json_decref(rec);

	rec = json_pack("{s:s, s:s}", "name", "x", "errors", "odd");
	pki_rec_error(rec, NULL, "new");
	e = json_object_get(rec, "errors");
	ok(json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)),
	    "a non-array errors value is kept, never replaced");
	json_decref(rec);

	rec = json_pack("{s:[]}", "errors");
	ok(!pki_rec_failed(rec), "an empty errors list is no failure");
	json_decref(rec);
}

static void
test_names(void)
{
	static const char *good[] = { "a.test", "www.example.com",
	    "*.example.com", "x", "a-b.c-d.e", "xn--bcher-kva.example",
	    "123.example" };
	static const char *bad[] = { "", "a b.test", "a..b", ".a", "a.",
	    "-a.test", "a-.test", "*", "a.*.test", "**.a", "$(reboot)",
	    "'; DROP TABLE certificates; --", "a_b.test", "a/b" };
	char label[80], longname[300];
	size_t i;
	int all;

	for (all = 1, i = 0; i < sizeof(good) / sizeof(*good); i++)
		if (pki_dns_name_check(good[i], 1) != NULL) {
			printf("# rejected %s\n", good[i]);
			all = 0;
		}
	ok(all, "accepts good host names");
	for (all = 1, i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (pki_dns_name_check(bad[i], 1) == NULL) {
			printf("# accepted %s\n", bad[i]);
			all = 0;
		}
	ok(all, "rejects bad host names");
	ok(pki_dns_name_check("*.example.com", 0) != NULL,
	    "no wildcard where none is allowed");
	memset(label, 'a', 64);
	strcpy(label + 64, ".test");
	ok(pki_dns_name_check(label, 0) != NULL &&
	    strstr(pki_dns_name_check(label, 0), "63") != NULL,
	    "a 64-character label is rejected, saying why");
	label[1] = '.';
	ok(pki_dns_name_check(label + 2, 0) == NULL, "a 63-character label is fine");
	memset(longname, 0, sizeof(longname));
	for (i = 0; i < 254; i++)
		longname[i] = i % 2 ? '.' : 'a';
	longname[253] = 'a';
	ok(strlen(longname) == 254 && pki_dns_name_check(longname, 0) != NULL,
	    "a 254-character name is rejected");
	longname[253] = '\0';
	ok(pki_dns_name_check(longname, 0) == NULL,
	    "a 253-character name is fine");
	ok(pki_subject_check("client", "gall_op") == NULL &&
	    pki_subject_check("CA", "Local CA") == NULL,
	    "client and CA names may have _ and spaces");
	ok(pki_subject_check("client", "$(reboot)") != NULL &&
	    pki_subject_check("client", "'; DROP TABLE certificates; --") != NULL,
	    "hostile client names are rejected");
	ok(pki_subject_check("server", "gall_op") != NULL,
	    "server names are host names");
}

static void
test_persist(void)
{
	const char *why = NULL;
	char *v, acct[PKI_PERSIST_ACCOUNT_MAX + 2];

	v = pki_persist_value("CA.Example", "https://ca.example/acct/1", 0, 0,
	    &why);
	ok(v != NULL && strcmp(v, "ca.example; accounturi="
	    "https://ca.example/acct/1") == 0, "persist: issuer (lower "
	    "case) and accounturi");
	free(v);
	v = pki_persist_value("ca.example", "https://ca.example/acct/1", 1,
	    1721952000, &why);
	ok(v != NULL && strcmp(v, "ca.example; accounturi="
	    "https://ca.example/acct/1; policy=wildcard; "
	    "persistUntil=1721952000") == 0, "persist: policy=wildcard and "
	    "persistUntil, in the draft's order");
	free(v);
	ok(pki_persist_value("ca example", "https://ca.example/a", 0, 0,
	    &why) == NULL && why != NULL, "persist: an issuer that is no "
	    "host name is refused");
	ok(pki_persist_value("ca.example", "https://ca.example/a;policy="
	    "wildcard", 0, 0, &why) == NULL && pki_persist_value("ca.example",
	    "https://ca.example/a b", 0, 0, &why) == NULL &&
	    pki_persist_value("ca.example", "", 0, 0, &why) == NULL,
	    "persist: an account URL with \";\", a blank, or none is refused");
	memset(acct, 'a', sizeof(acct) - 1);
	acct[sizeof(acct) - 1] = '\0';
	ok(pki_persist_value("ca.example", acct, 0, 0, &why) == NULL,
	    "persist: an account URL too long is refused");
}

static void
test_rec_names(void)
{
	json_t *rec, *names;

	rec = json_loads("{\"name\":\"a.test\",\"altnames\":[\"www.a.test\","
	    "\"A.TEST\",\"*.a.test\"]}", 0, NULL);
	names = pki_rec_names(rec);
	ok(json_array_size(names) == 3, "names: name + altnames, no "
	    "duplicates");
	json_decref(names);
	json_decref(rec);
	rec = json_loads("{\"name\":\"a.test\",\"altnames\":[\"ok.test\","
	    "\"bad..test\"]}", 0, NULL);
	ok(pki_rec_names(rec) == NULL && strcmp(pki_str(json_array_get(
	    json_object_get(rec, "errors"), 0), "field"), "altnames[1]") == 0,
	    "a bad altname is an error naming its field");
	json_decref(rec);
}

static void
test_secrets(void)
{
	char buf[64], path[64];
	json_t *s;
	size_t i;
	int fd, zero;

	memset(buf, 'k', sizeof(buf));
	pki_wipe(buf, sizeof(buf));
	for (zero = 1, i = 0; i < sizeof(buf); i++)
		zero &= buf[i] == 0;
	ok(zero, "pki_wipe zeroes");

	s = json_string("-----BEGIN PRIVATE KEY-----");
	pki_json_wipe_string(s);
	ok(json_string_value(s)[0] == '\0' && json_string_value(s)[5] == '\0',
	    "a JSON string can be wiped in place");
	json_decref(s);

	snprintf(path, sizeof(path), "%s/pass", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (write(fd, "sesame\nsecond line\n", 19) != 19)
		abort();
	close(fd);
	memset(buf, 'x', sizeof(buf));
	ok(pki_read_passphrase(path, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "sesame") == 0, "reads the passphrase's first line");
	for (zero = 1, i = 7; i < sizeof(buf); i++)
		zero &= buf[i] == 0;
	ok(zero, "the rest of the file is wiped from the buffer");
	chmod(path, 0644);
	ok(pki_read_passphrase(path, buf, sizeof(buf)) == -1,
	    "refuses a passphrase file others may read");
	chmod(path, 0600);
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	ok(pki_read_passphrase(path, buf, sizeof(buf)) == -1,
	    "refuses an empty passphrase");
	ok(pki_read_passphrase("/nonexistent/pass", buf, sizeof(buf)) == -1,
	    "reports a missing passphrase file");
}

/* Write LEN bytes of TEXT to DIR/NAME with MODE; the path into PATH. */
static void
secret_file(char *path, size_t size, const char *name, const char *text,
    size_t len, mode_t mode)
{
	int fd;

	snprintf(path, size, "%s/%s", dir, name);
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) == -1)
		abort();
	close(fd);
}

/* pki_read_secret() of PATH (at most MAX bytes) refused, its reason in
 * WHY containing NEEDLE and PATH, and no byte of SECRET. */
static int
refused(const char *path, size_t max, const char *needle, const char *secret)
{
	char why[512], *text;

	why[0] = '\0';
	text = pki_read_secret("test key", path, max, NULL, why, sizeof(why));
	if (text != NULL) {
		pki_free_secret(text);
		return 0;
	}
	if (getenv("TEST_VERBOSE") != NULL)
		fprintf(stderr, "# %s\n", why);
	return strncmp(why, "test key ", 9) == 0 && strstr(why, path) != NULL &&
	    strstr(why, needle) != NULL && strchr(why, '\n') == NULL &&
	    (secret == NULL || strstr(why, secret) == NULL);
}

static void
test_secret_files(void)
{
	static const mode_t open_modes[] = { 0644, 0660, 0640, 0620, 0604,
	    0602, 0666 };
	char path[64], link[64], why[64], shared[512], *text;
	size_t i, len = 0;

	alarm(20);	/* a FIFO that hangs fails the test */
	secret_file(path, sizeof(path), "s", "k3y\n", 4, 0600);
	text = pki_read_secret("test key", path, 4, &len, NULL, 0);
	ok(text != NULL && strcmp(text, "k3y\n") == 0 && len == 4,
	    "pki_read_secret reads a private file of MAX bytes");
	pki_free_secret(text);
	secret_file(path, sizeof(path), "s", "k3y\n", 4, 0400);
	text = pki_read_secret("test key", path, 4, &len, NULL, 0);
	ok(text != NULL, "... and one of mode 0400");
	pki_free_secret(text);
	for (i = 0; i < sizeof(open_modes) / sizeof(*open_modes); i++) {
		secret_file(path, sizeof(path), "s", "k3y\n", 4, open_modes[i]);
		snprintf(why, sizeof(why), "mode %04o); chmod 0600 it",
		    (unsigned)open_modes[i]);
		ok(refused(path, 4, why, "k3y"), open_modes[i] == 0644 ?
		    "refuses mode 0644, saying the mode and the chmod" :
		    "... and every mode that lets group or others read or write");
	}
	secret_file(path, sizeof(path), "s", "k3y\n", 4, 0640);
	text = pki_read_shared_secret("test key", path, 4, &len, NULL, 0);
	ok(text != NULL && len == 4,
	    "pki_read_shared_secret reads a file its group may read");
	pki_free_secret(text);
	for (i = 0; i < sizeof(open_modes) / sizeof(*open_modes); i++) {
		if (open_modes[i] == 0640)
			continue;
		secret_file(path, sizeof(path), "s", "k3y\n", 4,
		    open_modes[i]);
		shared[0] = '\0';
		text = pki_read_shared_secret("test key", path, 4, NULL,
		    shared, sizeof(shared));
		pki_free_secret(text);
		snprintf(why, sizeof(why), "... and refuses mode %04o",
		    (unsigned)open_modes[i]);
		ok(text == NULL && strstr(shared, "others may read or write "
		    "it, or group write it") != NULL && strstr(shared,
		    "chmod 0640") != NULL, why);
	}
	secret_file(path, sizeof(path), "s", "k3y\n", 4, 0600);
	snprintf(link, sizeof(link), "%s/link", dir);
	ok(symlink(path, link) == 0 && refused(link, 4, "symbolic link", NULL),
	    "refuses a symbolic link to a good file");
	ok(refused(path, 3, "larger than 3 bytes", "k3y"),
	    "refuses a file over MAX bytes");
	secret_file(path, sizeof(path), "s", "", 0, 0600);
	ok(refused(path, 4, "empty", NULL), "refuses an empty file");
	secret_file(path, sizeof(path), "s", "k3y\0x", 5, 0600);
	ok(refused(path, 8, "not text", "k3y"), "refuses a NUL byte");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ok(mkfifo(path, 0600) == 0 && refused(path, 4, "a FIFO, not a "
	    "regular file", NULL), "refuses a FIFO at once");
	ok(refused("/dev/null", 4, "a device, not a regular file", NULL),
	    "refuses a device");
	ok(refused(dir, 4, "a directory", NULL), "refuses a directory");
	ok(refused("/nonexistent/k", 4, "No such file", NULL),
	    "says a missing file is missing");
	ok(pki_read_file(path, 100) == NULL && pki_read_file("/dev/null",
	    100) == NULL, "pki_read_file refuses a FIFO and a device at once");
	alarm(0);
}

/* Run pki_read_secret() on PATH without WHY; its stderr as one line into
 * OUT.  NULL returned. */
static int
reported(const char *path, char *out, size_t size)
{
	char errpath[64], *text;
	FILE *f;
	int fd, saved, n;

	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	text = pki_read_secret("test key", path, 4, NULL, NULL, 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	out[0] = '\0';
	if ((f = fopen(errpath, "r")) != NULL) {
		n = (int)fread(out, 1, size - 1, f);
		out[n > 0 ? n : 0] = '\0';
		fclose(f);
	}
	pki_free_secret(text);
	return text == NULL;
}

static void
test_secret_report(void)
{
	char path[64], err[512], want[256], buf[8];

	secret_file(path, sizeof(path), "s", "k3y\n", 4, 0644);
	snprintf(want, sizeof(want), "test-common: test key %s: group or "
	    "others may read or write it (mode 0644); chmod 0600 it\n", path);
	ok(reported(path, err, sizeof(err)) && strcmp(err, want) == 0,
	    "without WHY the reason is reported: one line naming the file");
	secret_file(path, sizeof(path), "pass", "1234567\r\n", 9, 0600);
	ok(pki_read_passphrase(path, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "1234567") == 0, "a passphrase of SIZE-1 bytes, CRLF");
	secret_file(path, sizeof(path), "pass", "12345678\n", 9, 0600);
	ok(pki_read_passphrase(path, buf, sizeof(buf)) == -1 && buf[0] == '\0',
	    "refuses a longer one, the buffer wiped");
	secret_file(path, sizeof(path), "pass", "1234\n", 5, 0660);
	ok(pki_read_passphrase(path, buf, sizeof(buf)) == -1,
	    "refuses a passphrase file the group may read");
}

static void
test_files(void)
{
	char path[64], tmp[80], other[64], *text = NULL;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/key.pem", dir);
	umask(0);
	ok(pki_write_file(path, "one", 3, 0600) == 0, "writes a file");
	umask(022);
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "with exactly the mode asked for");
	ok(pki_write_file(path, "two", 3, 0600) == 0 &&
	    (text = pki_read_file(path, 100)) != NULL &&
	    strcmp(text, "two") == 0, "replaces it");
	free(text);
	ok(pki_read_file(path, 2) == NULL, "refuses a file over the limit");

	/* What a killed run left: replaced, not piled up, not followed. */
	snprintf(tmp, sizeof(tmp), "%s/.key.pem.pki-tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	close(fd);
	ok(pki_write_file(path, "three", 5, 0600) == 0 &&
	    access(tmp, F_OK) == -1, "a leftover temporary file is replaced");
	snprintf(other, sizeof(other), "%s/other", dir);
	fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0644);
	close(fd);
	ok(symlink(other, tmp) == 0 && pki_write_file(path, "four", 4,
	    0600) == 0 && stat(other, &st) == 0 && st.st_size == 0 &&
	    (st.st_mode & 07777) == 0644, "a symlink in its place is not "
	    "followed");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600 &&
	    st.st_size == 4, "the file is the new one, mode 0600");
	snprintf(path, sizeof(path), "%s/nodir/x", dir);
	ok(pki_write_file(path, "x", 1, 0600) == -1, "reports a missing "
	    "directory");
}

static void
test_numbers(void)
{
	long v;

	ok(pki_parse_long("n", "42", 1, 100, &v) == 0 && v == 42, "a number");
	ok(pki_parse_long("n", "4x", 1, 100, &v) == -1 &&
	    pki_parse_long("n", "", 1, 100, &v) == -1 &&
	    pki_parse_long("n", "101", 1, 100, &v) == -1 &&
	    pki_parse_long("n", "99999999999999999999", 1, 100, &v) == -1,
	    "rejects junk, empty, out of range, overflow");
}

static void
test_rfc3339(void)
{
	static const char *const bad[] = { "", "2026-12-05", "2026-12-05T04:00:00",
	    "2026-12-05T-1:00:00Z", "2026-12-05T 4:00:00Z", "2026-13-05T04:00:00Z",
	    "2026-12-05T24:00:00Z", "2026-12-05T04:00:00+05:00x",
	    "2026-12-05T04:00:00+5:00", "+026-12-05T04:00:00Z",
	    "2026-12-05T04:00:00.Z", "2026-12-05T04:00:00Zz", NULL };
	time_t t;
	size_t i;

	ok(pki_parse_rfc3339("2026-12-05T04:00:00Z", &t) == 0 &&
	    t == 1796443200, "an RFC 3339 time in UTC");
	ok(pki_parse_rfc3339("2026-12-05T09:30:00.123+05:30", &t) == 0 &&
	    t == 1796443200, "with a fraction and an offset");
	ok(pki_parse_rfc3339("2026-12-04t23:00:00-05:00", &t) == 0 &&
	    t == 1796443200, "lower-case t and a negative offset");
	for (i = 0; bad[i] != NULL; i++) {
		char what[96];

		snprintf(what, sizeof(what), "not a time: \"%s\"", bad[i]);
		ok(pki_parse_rfc3339(bad[i], &t) == -1, what);
	}
}

int
main(void)
{
	char cmd[64];

	pki_init("test-common");
	if (mkdtemp(dir) == NULL)
		return 2;
	test_reader();
	test_long_line();
	test_output();
	test_errors();
	test_json_string();
	test_names();
	test_persist();
	test_rec_names();
	test_secrets();
	test_secret_files();
	test_secret_report();
	test_files();
	test_numbers();
	test_rfc3339();
	printf("1..%d\n", tests);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) == -1)
		return 2;
	pki_out_close();
	return failures == 0 ? 0 : 1;
}
