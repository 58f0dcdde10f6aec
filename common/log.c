/*
 * log.c - messages on stderr (and syslog), prefixed with the program name.
 */
#include <sys/auxv.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <openssl/err.h>

#include "pki.h"

int pki_verbosity = 1;

static const char *progname = "pki";
static int use_syslog;

void
pki_init(const char *name)
{
	static int initialized;
	const char *slash;

	if (name != NULL) {
		slash = strrchr(name, '/');
		progname = slash != NULL ? slash + 1 : name;
	}
	if (initialized++)	/* once, however often called */
		return;
	/* pki needs no privileges of its own: a setuid or setgid copy
	 * would lend its owner's to whoever runs it. */
	if (getauxval(AT_SECURE)) {
		fprintf(stderr, "%s: refusing to run setuid, setgid or with "
		    "file capabilities: pki needs no privileges of its own\n",
		    progname);
		exit(PKI_EXIT_FATAL);
	}
	signal(SIGPIPE, SIG_IGN);
	pki_wiping_alloc();
	atexit(pki_rec_error_summary);
}

const char *
pki_progname(void)
{
	return progname;
}

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

int
pki_log_syslog(const char *facility)
{
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (strcmp(facility, facilities[i].name) == 0) {
			openlog(progname, LOG_PID, facilities[i].facility);
			use_syslog = 1;
			return 0;
		}
	}
	pki_err("unknown syslog facility \"%s\"", facility);
	return -1;
}

static void __attribute__((format(printf, 3, 0)))
vlog(int level, int min_verbosity, const char *fmt, va_list ap)
{
	char msg[2048], *p;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One message, one line, nothing for the terminal to obey: a value
	 * in it (a name, a path, a server's answer) may hold a newline or
	 * an escape sequence. */
	for (p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (pki_verbosity >= min_verbosity)
		fprintf(stderr, "%s: %s\n", progname, msg);
	if (use_syslog && (level != LOG_DEBUG || pki_verbosity >= 3))
		syslog(level, "%s", msg);
}

void
pki_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
}

void
pki_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void
pki_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, 2, fmt, ap);
	va_end(ap);
}

void
pki_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, 3, fmt, ap);
	va_end(ap);
}

const char *
pki_ssl_reason(void)
{
	static char buf[256];
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		return "unknown OpenSSL error";
	ERR_error_string_n(last, buf, sizeof(buf));
	return buf;
}

void
pki_ssl_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pki_err("%s: %s", msg, pki_ssl_reason());
}
