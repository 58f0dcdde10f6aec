/*
 * dns-net.c - the network of pki-dnsup in a fuzz target: every DNS
 * message it would get from a server (an answer to a query, or to an
 * UPDATE) is the next one of the input; each exchange costs 50 ms of the
 * fuzz clock (clock.c).
 *
 * The input of the target is the records, a line "%%", then the messages,
 * each as DNS over TCP frames them: two bytes of length (network order),
 * then the message in wire format.  When they run out, every server
 * stops answering.
 */
#include <string.h>

#include <ldns/ldns.h>

#include "pki.h"
#include "fuzz.h"

static const uint8_t *next, *end;

/* Take the rest of the input as the messages to come. */
void
fuzz_dns_messages(const uint8_t *data, size_t size)
{
	next = data;
	end = data != NULL ? data + size : NULL;
}

/* The next message of the input as a packet; NULL when there is none. */
static ldns_status
message(ldns_pkt **reply)
{
	size_t len;

	*reply = NULL;
	fuzz_clock_pass(0.05);
	if (next == NULL || end - next < 2)
		return LDNS_STATUS_NETWORK_ERR;
	len = (size_t)next[0] << 8 | next[1];
	next += 2;
	if (len > (size_t)(end - next))
		len = (size_t)(end - next);
	next += len;
	return ldns_wire2pkt(reply, next - len, len);
}

ldns_status
ldns_resolver_query_status(ldns_pkt **reply, ldns_resolver *r,
    const ldns_rdf *name, ldns_rr_type t, ldns_rr_class c, uint16_t flags)
{
	(void)r, (void)name, (void)t, (void)c, (void)flags;
	return message(reply);
}

ldns_status
ldns_send(ldns_pkt **reply, ldns_resolver *r, const ldns_pkt *query)
{
	(void)r, (void)query;
	return message(reply);
}
