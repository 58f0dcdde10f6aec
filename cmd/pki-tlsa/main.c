/*
 * pki-tlsa - the DANE TLSA records (RFC 6698, RFC 7671) of cert records.
 *
 * For each certificate of a record and each of its services, one TLSA
 * record per name: owner _PORT._PROTO.NAME., usage/selector/matching type
 * and TTL from the service's TLSA prefix (default 3 1 1, TTL 3600), data
 * computed from the certificate (usages 1 and 3) or from the top of its
 * chain, the CA pki knows last (usages 0 and 2).  The result replaces
 * "tlsa"; a record without services has none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "pki.h"

static const char usage[] =
"usage: pki-tlsa [-hqv] [--syslog FACILITY]\n";

struct tlsa_params {
	unsigned	 port;
	char		 proto[8];
	unsigned	 ttl;
	unsigned	 usage;
	unsigned	 selector;
	unsigned	 mtype;
};

/* The decimal S as a number up to MAX into *OUT; -1 if it is not one. */
static int
number(const char *s, unsigned long max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9' || strlen(s) > 10)
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/*
 * The parameters of service SVC: its "tlsa_prefix" (serverPKI's
 * "_443._tcp.{}. 3600 IN TLSA 3 1 1"), else "port" with the defaults.
 * NULL, or what is wrong.
 */
static const char *
service_params(const json_t *svc, struct tlsa_params *p)
{
	const char *prefix = pki_str(svc, "tlsa_prefix");
	char port[12], ttl[12], u[4], sel[4], mt[4], tail[2];
	json_t *jport = json_object_get(svc, "port");

	*p = (struct tlsa_params){ 0, "tcp", 3600, 3, 1, 1 };
	if (!json_is_object(svc))
		return "not an object";
	if (prefix != NULL) {
		if (sscanf(prefix, "_%11[0-9]._%7[a-z].{}. %11[0-9] IN TLSA "
		    "%3[0-9] %3[0-9] %3[0-9]%1s", port, p->proto, ttl, u, sel,
		    mt, tail) != 6)
			return "tlsa_prefix is not like "
			    "\"_443._tcp.{}. 3600 IN TLSA 3 1 1\"";
		if (number(port, 65535, &p->port) == -1 ||
		    number(ttl, 2147483647, &p->ttl) == -1 ||
		    number(u, 3, &p->usage) == -1 ||
		    number(sel, 1, &p->selector) == -1 ||
		    number(mt, 2, &p->mtype) == -1)
			return "tlsa_prefix: port, TTL, usage, selector or "
			    "matching type out of range";
	} else if (json_is_integer(jport) && json_integer_value(jport) > 0 &&
	    json_integer_value(jport) <= 65535)
		p->port = (unsigned)json_integer_value(jport);
	else
		return "neither a tlsa_prefix nor a port from 1 to 65535";
	if (p->port == 0)
		return "port 0";
	if (strcmp(p->proto, "tcp") != 0 && strcmp(p->proto, "udp") != 0 &&
	    strcmp(p->proto, "sctp") != 0)
		return "protocol is not tcp, udp or sctp";
	return NULL;
}

/* A certificate as DER (certificates are only hashed here, never parsed
 * into objects, which OpenSSL 3.0 makes slow). */
struct der {
	unsigned char	*buf;
	long		 len;
};

/* The association data (hex) of certificate DER for selector and
 * matching type; NULL if DER is no certificate. */
static char *
tlsa_data(const struct der *cert, unsigned selector, unsigned mtype)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	const unsigned char *data = cert->buf;
	unsigned int mdlen;
	char *hex = NULL;
	long len = cert->len;

	if (selector == 1 && pki_der_spki(cert->buf, cert->len, &data,
	    &len) == -1)
		return NULL;
	if (mtype == 0) {
		if ((hex = malloc(2 * (size_t)len + 1)) != NULL)
			pki_hex(data, (size_t)len, hex);
	} else if (EVP_Digest(data, (size_t)len, md, &mdlen,
	    mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL)) {
		if ((hex = malloc(2 * mdlen + 1)) != NULL)
			pki_hex(md, mdlen, hex);
	}
	return hex;
}

/* Append the records of one certificate and one service to OUT. */
static int
add_rrs(json_t *out, const struct der *cert, const char *algo,
    const json_t *svc, const struct tlsa_params *p, const json_t *names)
{
	const char *name;
	char owner[300], *data;
	json_t *v;
	size_t i;

	if ((data = tlsa_data(cert, p->selector, p->mtype)) == NULL)
		return -1;
	json_array_foreach(names, i, v) {
		name = json_string_value(v);
		/* No TLSA owner can stand for a wildcard or an address. */
		if (strncmp(name, "*.", 2) == 0 ||
		    pki_ip_name(name, NULL))
			continue;
		snprintf(owner, sizeof(owner), "_%u._%s.%s.", p->port,
		    p->proto, name);
		json_array_append_new(out, json_pack(
		    "{s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:s*}",
		    "owner", owner, "ttl", (int)p->ttl, "usage", (int)p->usage,
		    "selector", (int)p->selector, "mtype", (int)p->mtype,
		    "data", data, "algo", algo, "service",
		    pki_str(svc, "name")));
	}
	free(data);
	return 0;
}

/* The certificate of ENTRY that CERT_USAGE names, as DER: for 0 and 2
 * the last of the chain, else the certificate itself.  -1 if none. */
static int
usage_der(const json_t *entry, unsigned cert_usage, struct der *der)
{
	der->buf = cert_usage == 1 || cert_usage == 3 ?
	    pki_pem_der(pki_str(entry, "pem"), "CERTIFICATE", 0, &der->len) :
	    pki_pem_der(pki_str(entry, "chain"), "CERTIFICATE", 1, &der->len);
	return der->buf != NULL ? 0 : -1;
}

static int
tlsa(json_t *rec, void *ctx)
{
	json_t *services, *certs, *names, *out, *svc, *entry;
	struct tlsa_params p;
	const char *algo, *why;
	char field[32];
	struct der der;
	size_t i;
	int rc = 0;

	(void)ctx;
	services = json_object_get(rec, "services");
	certs = json_object_get(rec, "cert");
	if (certs != NULL && !json_is_object(certs))
		return pki_rec_error(rec, "cert", "must be an object");
	if (services != NULL && !json_is_null(services) &&
	    !json_is_array(services))
		return pki_rec_error(rec, "services", "must be an array");
	if (json_object_size(certs) == 0)
		return 0;
	if (json_array_size(services) == 0) {
		json_object_del(rec, "tlsa");	/* no service, no record */
		return 0;
	}
	if ((names = pki_rec_names(rec)) == NULL)
		return -1;
	out = json_array();
	json_array_foreach(services, i, svc) {
		snprintf(field, sizeof(field), "services[%zu]", i);
		if ((why = service_params(svc, &p)) != NULL) {
			rc = pki_rec_error(rec, field, "%s", why);
			goto out;
		}
		json_object_foreach(certs, algo, entry) {
			if (usage_der(entry, p.usage, &der) == -1) {
				rc = pki_rec_error(rec, "cert", "%s: no PEM "
				    "%s", algo, p.usage == 1 || p.usage == 3 ?
				    "certificate" : "chain for usage 0 or 2");
				goto out;
			}
			rc = add_rrs(out, &der, algo, svc, &p, names);
			OPENSSL_free(der.buf);
			if (rc == -1) {
				pki_rec_error(rec, "cert", "%s: not a "
				    "certificate", algo);
				goto out;
			}
		}
	}
	json_object_set(rec, "tlsa", out);
	pki_info("%s: %zu TLSA records", pki_rec_name(rec),
	    json_array_size(out));
out:
	json_decref(out);
	json_decref(names);
	return rc;
}

int
main(int argc, char *argv[])
{
	return pki_stage_main(argc, argv, usage, tlsa, NULL);
}
