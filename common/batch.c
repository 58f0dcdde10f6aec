/*
 * batch.c - the loop of a stage that gathers its batch (DESIGN 3.4).
 *
 * Such a stage holds only the records it acts on.  Every other record is
 * written the moment it is read, so that it reaches pki-store without
 * waiting for the batch, and memory holds the batch only.  At the end of
 * the input the stage sets up what its records need, once, acts on all of
 * them, and every record held is written, in input order, whatever
 * happened: a setup that failed, or a batch that could not be gathered
 * (an input that cannot be read to its end), becomes an error of each
 * record held.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "pki.h"

struct gather {
	int		(*mine)(json_t *rec, void *ctx);
	void		*ctx;
	json_t		*held;
	int		 broken;	/* MINE failed: the rest passes */
};

/* The worse of two exit statuses. */
static int
worse(int a, int b)
{
	return a > b ? a : b;
}

/*
 * Hold REC (owned) in G->held, or write it at once, as G->mine says.
 * The exit status it brings; PKI_EXIT_FATAL with G->broken set once the
 * stage cannot go on, and -1 when the output cannot be written.
 */
static int
take(struct gather *g, json_t *rec)
{
	size_t last = json_array_size(g->held);
	int m = PKI_PASS, rc;

	if (json_array_append(g->held, rec) == -1) {
		pki_err("%s: out of memory", pki_rec_name(rec));
		g->broken = 1;
	} else if (!g->broken && (m = g->mine(rec, g->ctx)) == -1)
		g->broken = 1;
	if (m == PKI_HOLD && !g->broken) {
		json_decref(rec);	/* G->held has it */
		return PKI_EXIT_OK;
	}
	if (json_array_size(g->held) > last)
		json_array_remove(g->held, last);
	rc = pki_out(rec);
	json_decref(rec);
	if (rc == -1)
		return -1;
	if (g->broken)
		return PKI_EXIT_FATAL;
	return m == PKI_FAILED ? PKI_EXIT_RECORD : PKI_EXIT_OK;
}

int
pki_gather(int (*mine)(json_t *rec, void *ctx), void *ctx, json_t *held)
{
	struct gather g = { mine, ctx, held, 0 };
	struct pki_in *in;
	json_t *rec;
	unsigned long errors = pki_rec_error_count();
	int r, status = PKI_EXIT_OK;

	if ((in = pki_in_open(STDIN_FILENO)) == NULL)
		return PKI_EXIT_FATAL;
	while ((r = pki_in_next(in, &rec)) != 0) {
		if (r == -2) {
			status = PKI_EXIT_FATAL;
			break;
		}
		if (r == -1) {
			status = worse(status, PKI_EXIT_RECORD);
			continue;
		}
		if ((r = take(&g, rec)) == -1) {
			status = PKI_EXIT_FATAL;
			break;
		}
		status = worse(status, r);
	}
	pki_in_close(in);
	/* A record read or written only in part (too long, a NUL) got an
	 * error of this stage. */
	if (pki_rec_error_count() != errors)
		status = worse(status, PKI_EXIT_RECORD);
	return status;
}

void
pki_held_error(json_t *held, const char *field, const char *fmt, ...)
{
	char msg[1024];
	json_t *rec;
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_foreach(held, i, rec)
		pki_rec_error(rec, field, "%s", msg);
}

int
pki_write_held(json_t *held, int status)
{
	json_t *rec;
	unsigned long errors = pki_rec_error_count();
	size_t i;

	json_array_foreach(held, i, rec) {
		if (pki_out(rec) == -1) {
			status = PKI_EXIT_FATAL;
			break;
		}
	}
	json_array_clear(held);
	if (pki_rec_error_count() != errors)	/* one written in part */
		status = worse(status, PKI_EXIT_RECORD);
	return status;
}

int
pki_batch(const struct pki_batch *b, json_t *held, void *ctx)
{
	char why[1024];
	int status;

	status = pki_gather(b->mine, ctx, held);
	if (json_array_size(held) == 0)
		return status;
	if (status == PKI_EXIT_FATAL)
		pki_held_error(held, b->field, "%s: the batch could not be "
		    "gathered", b->undone);
	else if (b->setup != NULL && b->setup(ctx, why, sizeof(why)) == -1) {
		pki_held_error(held, b->field, "%s", why);
		status = PKI_EXIT_FATAL;
	} else
		status = worse(status, b->act(held, ctx));
	return pki_write_held(held, status);
}
