/*
 * pki-keygen - make the private keys of cert records.
 *
 * For each algorithm of a record ("algos": "rsa", "ec") that has no
 * certificate yet, a new key goes to "key".ALGO as PKCS#8 PEM.  With
 * --reuse a key the record already carries is kept.  A record that
 * carries a CSR and no key (its key is held elsewhere) passes unchanged.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pki.h"

static const char usage[] =
"usage: pki-keygen [-hqv] [--reuse] [--rsa-bits BITS] [--ec-curve CURVE]\n"
"                  [--syslog FACILITY]\n";

struct keygen {
	int		 reuse;
	long		 rsa_bits;	/* default for records without one */
	const char	*ec_curve;
};

static int
rsa_bits_valid(long bits)
{
	return bits == 2048 || bits == 3072 || bits == 4096;
}

static int
ec_curve_valid(const char *curve)
{
	return curve != NULL &&
	    (strcmp(curve, "P-256") == 0 || strcmp(curve, "P-384") == 0);
}

/* The algorithms the record asks for: "algos", default ["rsa"] as in
 * serverPKI.  NULL after adding an error. */
static json_t *
record_algos(json_t *rec)
{
	json_t *algos = json_object_get(rec, "algos"), *v;
	size_t i, j;

	if (algos == NULL || json_is_null(algos))
		return json_pack("[s]", "rsa");
	if (!json_is_array(algos) || json_array_size(algos) == 0) {
		pki_rec_error(rec, "algos", "must be a list of \"rsa\", \"ec\"");
		return NULL;
	}
	json_array_foreach(algos, i, v) {
		if (!pki_algo_valid(json_string_value(v))) {
			pki_rec_error(rec, "algos", "unknown algorithm at "
			    "position %zu (use \"rsa\" or \"ec\")", i);
			return NULL;
		}
		for (j = 0; j < i; j++)
			if (json_equal(v, json_array_get(algos, j))) {
				pki_rec_error(rec, "algos", "\"%s\" twice",
				    json_string_value(v));
				return NULL;
			}
	}
	return json_incref(algos);
}

/* Key parameters: the record's "rsa_bits" / "ec_curve", else the flags. */
static int
record_params(json_t *rec, const struct keygen *kg, long *bits,
    const char **curve)
{
	json_t *v;

	*bits = kg->rsa_bits;
	*curve = kg->ec_curve;
	if ((v = json_object_get(rec, "rsa_bits")) != NULL) {
		if (!json_is_integer(v) || !rsa_bits_valid(json_integer_value(v)))
			return pki_rec_error(rec, "rsa_bits",
			    "must be 2048, 3072 or 4096");
		*bits = (long)json_integer_value(v);
	}
	if ((v = json_object_get(rec, "ec_curve")) != NULL) {
		if (!ec_curve_valid(json_string_value(v)))
			return pki_rec_error(rec, "ec_curve",
			    "must be \"P-256\" or \"P-384\"");
		*curve = json_string_value(v);
	}
	return 0;
}

/* Keep the record's key for ALGO if it is one; 1 kept, 0 none, -1 bad. */
static int
reuse_key(json_t *rec, json_t *keys, const char *algo)
{
	const char *pem = pki_str(keys, algo), *why;
	EVP_PKEY *key;
	char field[16];
	int ok;

	if (pem == NULL)
		return 0;
	snprintf(field, sizeof(field), "key.%s", algo);
	if ((key = pki_key_from_pem(pem, NULL, &why)) == NULL)
		return pki_rec_error(rec, field, "%s", why);
	ok = pki_key_algo(key) != NULL && strcmp(pki_key_algo(key), algo) == 0;
	EVP_PKEY_free(key);
	if (!ok)
		return pki_rec_error(rec, field, "not an %s key", algo);
	return 1;
}

static int
make_key(json_t *rec, json_t *keys, const char *algo, long bits,
    const char *curve)
{
	EVP_PKEY *key;
	json_t *csrs;
	char *pem;

	if (strcmp(algo, "rsa") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	if (key == NULL)
		return pki_rec_error(rec, "key", "cannot make %s key: %s",
		    algo, pki_ssl_reason());
	pem = pki_key_to_pem(key, NULL);
	EVP_PKEY_free(key);
	if (pem == NULL)
		return pki_rec_error(rec, "key", "cannot encode %s key", algo);
	json_object_set_new(keys, algo, json_string(pem));
	pki_free_secret(pem);
	/* A CSR made for an older key is void now. */
	if ((csrs = json_object_get(rec, "csr")) != NULL) {
		json_object_del(csrs, algo);
		if (json_is_object(csrs) && json_object_size(csrs) == 0)
			json_object_del(rec, "csr");
	}
	pki_info("%s: new %s key", pki_rec_name(rec), algo);
	return 0;
}

static int
keygen(json_t *rec, void *ctx)
{
	const struct keygen *kg = ctx;
	json_t *algos, *keys, *certs, *v;
	const char *algo, *curve;
	long bits;
	size_t i;
	int rc = 0, r;

	if (pki_rec_keyless(rec))
		return 0;	/* CSR input: the key is not pki's */
	if ((algos = record_algos(rec)) == NULL)
		return -1;
	if (record_params(rec, kg, &bits, &curve) == -1 ||
	    (keys = pki_rec_object(rec, "key")) == NULL) {
		json_decref(algos);
		return -1;
	}
	certs = json_object_get(rec, "cert");
	json_array_foreach(algos, i, v) {
		algo = json_string_value(v);
		if (json_object_get(certs, algo) != NULL)
			continue;	/* issued already */
		r = kg->reuse ? reuse_key(rec, keys, algo) : 0;
		if (r == 0)
			r = make_key(rec, keys, algo, bits, curve);
		if (r == -1) {
			rc = -1;
			break;
		}
	}
	if (json_object_size(keys) == 0)
		json_object_del(rec, "key");
	json_decref(algos);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ "reuse",	no_argument,		NULL, 'r' },
		{ "rsa-bits",	required_argument,	NULL, 'b' },
		{ "ec-curve",	required_argument,	NULL, 'c' },
		{ NULL,		0,			NULL, 0 }
	};
	struct keygen kg = { 0, 2048, "P-256" };
	int ch;

	pki_init(argv[0]);
	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1) {
		switch (ch) {
		case 'r':
			kg.reuse = 1;
			break;
		case 'b':
			if (pki_parse_long("--rsa-bits", optarg, 2048, 4096,
			    &kg.rsa_bits) == -1)
				return PKI_EXIT_FATAL;
			if (!rsa_bits_valid(kg.rsa_bits)) {
				pki_err("--rsa-bits: use 2048, 3072 or 4096");
				return PKI_EXIT_FATAL;
			}
			break;
		case 'c':
			if (!ec_curve_valid(optarg)) {
				pki_err("--ec-curve: use P-256 or P-384");
				return PKI_EXIT_FATAL;
			}
			kg.ec_curve = optarg;
			break;
		default:
			pki_usage(usage);
		}
	}
	if (optind != argc)
		pki_usage(usage);
	return pki_filter(keygen, &kg);
}
