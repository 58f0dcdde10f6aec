/*
 * persist.c - the standing validation record of dns-persist-01
 * (draft-ietf-acme-dns-persist): what pki-acme asks pki-dnsup to publish
 * and what pki-dnsup checks it against, written the one way both agree.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"

/* NULL if ACCOUNT can stand in an issue-value parameter (RFC 8659 4.2:
 * printable ASCII without blank or ";"; here without quote and backslash
 * too, which no account URL holds), else what is wrong. */
static const char *
account_check(const char *account)
{
	const char *p;

	if (account == NULL || *account == '\0')
		return "no account URL";
	if (strlen(account) > PKI_PERSIST_ACCOUNT_MAX)
		return "the account URL is too long";
	for (p = account; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e || *p == ';' || *p == '"' ||
		    *p == '\\')
			return "the account URL has a blank, \";\", a quote, "
			    "a backslash or a character that is not ASCII";
	return NULL;
}

char *
pki_persist_value(const char *issuer, const char *account, int wildcard,
    long long until, const char **why)
{
	char name[256], *v = NULL;
	size_t i;
	int n;

	if ((*why = pki_dns_name_check(issuer, 0)) != NULL ||
	    (*why = account_check(account)) != NULL)
		return NULL;
	/* The draft's issuer domain names are lower case. */
	for (i = 0; issuer[i] != '\0' && i < sizeof(name) - 1; i++)
		name[i] = (char)tolower((unsigned char)issuer[i]);
	name[i] = '\0';
	if (until > 0)
		n = asprintf(&v, "%s; accounturi=%s%s; persistUntil=%lld",
		    name, account, wildcard ? "; policy=wildcard" : "", until);
	else
		n = asprintf(&v, "%s; accounturi=%s%s", name, account,
		    wildcard ? "; policy=wildcard" : "");
	if (n == -1) {
		*why = "out of memory";
		return NULL;
	}
	return v;
}
