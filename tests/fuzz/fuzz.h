/*
 * fuzz.h - what every fuzz target of tests/fuzz/ defines (libFuzzer's
 * interface), and the little they share.
 */
#ifndef PKI_FUZZ_H
#define PKI_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* DATA as standard input (a memory file) and standard output thrown away:
 * how a stage target feeds its program one input. */
int	fuzz_stdin(const uint8_t *data, size_t size);
void	fuzz_quiet_stdout(void);
/* A target fed records as a stage is: pki_init(NAME), quiet, its
 * standard output thrown away. */
void	fuzz_records_init(const char *name);

/* DATA as a NUL-terminated string, or NULL when out of memory. */
char	*fuzz_string(const uint8_t *data, size_t size);

/* A stage target: the program's main(), renamed, and what it needs first
 * (its arguments in *ARGS, their number; -1 when it cannot be set up). */
int	fuzz_main(int argc, char *argv[]);
int	fuzz_stage_setup(char ***args);
/* How much of an input is the stage's stdin (the rest is for its fake
 * servers, when it has any). */
size_t	fuzz_stage_input(const uint8_t *data, size_t size);

/* An input of a stage with fake servers: the records, a line "%%", what
 * the servers say.  SERVERS gets the latter (NULL without the line); the
 * length of the records is returned. */
size_t	fuzz_split(const uint8_t *data, size_t size,
	    void (*servers)(const uint8_t *, size_t));

/* The fake servers of pki-dnsup (dns-net.c) and pki-acme (acme-net.c):
 * what they answer, from the rest of the input. */
void	fuzz_dns_messages(const uint8_t *data, size_t size);
void	fuzz_acme_responses(const uint8_t *data, size_t size);
/* The fuzz clock (clock.c): SECONDS go by. */
void	fuzz_clock_pass(double seconds);

#endif
