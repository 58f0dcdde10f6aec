# pki - build, test, install.  See README.
#
#   make              build every program into build/bin
#   make check        run the test suite (prove, TAP)
#   make asan         build with AddressSanitizer + UBSan into build-asan/bin
#   make check-asan   run the suite against the asan build
#   make fuzz         run the fuzz targets under libFuzzer (FUZZ_TIME=600 s each)
#   make install      PREFIX=/usr/local DESTDIR=
#   make deps         install the Debian packages (as root)
#   make demo         set up a private database and issue certificates
#   make bench        run the benchmarks in bench/

PREFIX	?= /usr/local
BINDIR	 = $(PREFIX)/bin
DATADIR	 = $(PREFIX)/share/pki
MANDIR	 = $(PREFIX)/share/man

BUILD	?= build
CC	?= cc
CFLAGS	?= -O2 -g
SANFLAGS ?=
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wpointer-arith -Wformat=2 -Werror
PKGS	 = openssl libpq jansson
# Asked of pkg-config when first used, once: not when make reads this
# file, so that "make deps" and "make demo" say nothing of packages that
# they are about to install.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $$(PKGS)))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell pkg-config --libs $$(PKGS)))$(PKG_LIBS)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) \
	     -Icommon $(PKG_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

# One directory per program under cmd/.
PROGS	 = $(notdir $(wildcard cmd/pki-*))

# Libraries beyond openssl, libpq and jansson, per program.
LIBS_pki-acme	= libcurl
LIBS_pki-dnsup	= ldns
LIBS_pki-deploy	= libssh hiredis
COMMON	 = log opt record batch name persist secret file crypto db clock \
	   rfc3339 wipe
COMMON_OBJS = $(COMMON:%=$(BUILD)/common/%.o)
BINS	 = $(PROGS:%=$(BUILD)/bin/%)
# The fuzz targets (tests/fuzz/), below: stages that need no server or
# whose servers are the input's.
FUZZ_STAGES = csr tlsa keygen localca dnsup acme-order acme-finish
FUZZ_TARGETS = record pem http01 acme-headers store-check tsig-key \
	certbot-jwk deploy-plan \
	$(FUZZ_STAGES:%=stage-%)
TEST_BINS = $(BUILD)/tests/test-common $(BUILD)/tests/deploy-quote \
	$(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)

.SECONDARY:
.SECONDEXPANSION:
.PHONY: all check asan check-asan install uninstall clean deps demo bench lint \
	fuzz

all: $(BINS) $(TEST_BINS)

$(BUILD)/common/%.o: common/%.c common/pki.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libpki.a: $(COMMON_OBJS)
	rm -f $@
	ar rcs $@ $(COMMON_OBJS)

# A program's objects see its own libraries' headers too.
$(BUILD)/cmd/%.o: cmd/%.c common/pki.h $$(wildcard $$(dir cmd/$$*)*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(if $(LIBS_$(notdir $(@D))),$(shell pkg-config --cflags $(LIBS_$(notdir $(@D))))) -c -o $@ $<

# One directory per program; every .c file in it is part of the program.
$(BUILD)/bin/%: $$(addprefix $(BUILD)/,$$(subst .c,.o,$$(wildcard cmd/$$*/*.c))) \
		$(BUILD)/libpki.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libpki.a \
		$(if $(LIBS_$*),$(shell pkg-config --libs $(LIBS_$*))) $(PKG_LIBS)

$(BUILD)/tests/%.o: tests/unit/%.c common/pki.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/test-common: $(BUILD)/tests/test-common.o $(BUILD)/libpki.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# pki-deploy's shell quoting alone (tests/deploy.t).
$(BUILD)/tests/deploy-quote.o: ALL_CFLAGS += -Icmd/pki-deploy
$(BUILD)/tests/deploy-quote.o: cmd/pki-deploy/deploy.h
$(BUILD)/tests/deploy-quote: $(BUILD)/tests/deploy-quote.o \
		$(BUILD)/cmd/pki-deploy/quote.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# Fuzz targets (tests/fuzz/): each built with tests/fuzz/driver.c, which
# runs it over its corpus in the suite (tests/fuzz.t), and by "make fuzz"
# with libFuzzer instead.  A stage target is the program itself, its
# main() renamed fuzz_main(), fed one input as stdin.
FUZZ_DRIVER ?= $(BUILD)/fuzz/driver.o
FUZZ_LINK ?=
FUZZ_OBJS = $(FUZZ_DRIVER) $(BUILD)/fuzz/util.o

# A target of one program's parts (not its main()): FUZZ_PROG_target.
FUZZ_PROG_http01 = pki-acme
FUZZ_PROG_acme-headers = pki-acme
FUZZ_PROG_store-check = pki-store
FUZZ_PROG_tsig-key = pki-dnsup
FUZZ_PROG_certbot-jwk = pki-import
FUZZ_PROG_deploy-plan = pki-deploy
# A stage target's program (pki-STEM unless said) and setup file
# (tests/fuzz/setup-STEM.c, else setup-plain.c).
STAGE_PROG_acme-order = acme
STAGE_PROG_acme-finish = acme
STAGE_SETUP_acme-order = acme
STAGE_SETUP_acme-finish = acme
stage_prog = pki-$(or $(STAGE_PROG_$(1)),$(1))
stage_setup = tests/fuzz/setup-$(or $(STAGE_SETUP_$(1)),$(if $(wildcard tests/fuzz/setup-$(1).c),$(1),plain)).c
# What stands in for a program's network and clock (the input's servers).
FUZZ_NET_pki-dnsup = $(BUILD)/fuzz/dns-net.o $(BUILD)/fuzz/clock.o
FUZZ_NET_pki-acme = $(BUILD)/fuzz/acme-net.o $(BUILD)/fuzz/clock.o
FUZZ_DROP_pki-acme = %/http.o
# (A % in a pattern rule's prerequisites would be the stem: hence MAIN_O.)
MAIN_O = %/main.o
prog_objs = $(filter-out $(MAIN_O) $(FUZZ_DROP_$(1)),$(addprefix $(BUILD)/,$(subst .c,.o,$(wildcard cmd/$(1)/*.c)))) \
	$(FUZZ_NET_$(1))
prog_cflags = $(if $(1),-Icmd/$(1) $(if $(LIBS_$(1)),$(shell pkg-config --cflags $(LIBS_$(1)))))
prog_libs = $(if $(LIBS_$(1)),$(shell pkg-config --libs $(LIBS_$(1))))

$(BUILD)/fuzz/dns-net.o: FUZZ_PROG_dns-net = pki-dnsup
$(BUILD)/fuzz/acme-net.o: FUZZ_PROG_acme-net = pki-acme
$(BUILD)/fuzz/%.o: tests/fuzz/%.c tests/fuzz/fuzz.h common/pki.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz $(call prog_cflags,$(FUZZ_PROG_$*)) \
		-c -o $@ $<

$(BUILD)/fuzz/%: $(BUILD)/fuzz/%.o $$(call prog_objs,$$(FUZZ_PROG_$$*)) \
		$(FUZZ_OBJS) $(BUILD)/libpki.a
	$(CC) $(ALL_LDFLAGS) $(FUZZ_LINK) -o $@ $(filter %.o,$^) \
		$(BUILD)/libpki.a $(call prog_libs,$(FUZZ_PROG_$*)) $(PKG_LIBS)

# A stage target: the program's main() as fuzz_main(), what it needs set
# up, and the rest of the program.
$(BUILD)/fuzz/main-%.o: cmd/%/main.c common/pki.h tests/fuzz/fuzz.h \
		$$(wildcard cmd/$$*/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Dmain=fuzz_main -include tests/fuzz/fuzz.h \
		$(call prog_cflags,$*) -c -o $@ $<
$(BUILD)/fuzz/setup-%.o: $$(call stage_setup,$$*) tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz $(call prog_cflags,$(call stage_prog,$*)) \
		-DFUZZ_PROG='"$(call stage_prog,$*)"' \
		-DFUZZ_ACME='"$(patsubst acme-%,%,$*)"' -c -o $@ $<

$(BUILD)/fuzz/stage-%: $(BUILD)/fuzz/stage.o $(BUILD)/fuzz/setup-%.o \
		$(BUILD)/fuzz/main-$$(call stage_prog,$$*).o \
		$$(call prog_objs,$$(call stage_prog,$$*)) \
		$(FUZZ_OBJS) $(BUILD)/libpki.a
	$(CC) $(ALL_LDFLAGS) $(FUZZ_LINK) -o $@ $(filter %.o,$^) \
		$(BUILD)/libpki.a $(call prog_libs,$(call stage_prog,$*)) \
		$(PKG_LIBS)

# make fuzz: every target under libFuzzer with ASan and UBSan (Debian's
# clang) for FUZZ_TIME seconds each, from its corpus; what it finds goes
# to build-fuzz/found/ (copy it to tests/fuzz/corpus/TARGET/ once fixed).
FUZZ_TIME ?= 600
fuzz:
	@dpkg -s clang >/dev/null 2>&1 || $(MAKE) deps DEB_PKGS="$(DEB_PKGS) clang"
	$(MAKE) CC=clang BUILD=build-fuzz CFLAGS="-O1 -g" FUZZ_DRIVER= \
		SANFLAGS="-fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		FUZZ_LINK=-fsanitize=fuzzer \
		$(FUZZ_TARGETS:%=build-fuzz/fuzz/%)
	@mkdir -p build-fuzz/found; failed=; \
	for t in $(FUZZ_TARGETS); do \
		mkdir -p build-fuzz/corpus/$$t; \
		echo "fuzz: $$t for $(FUZZ_TIME) s"; \
		build-fuzz/fuzz/$$t -max_total_time=$(FUZZ_TIME) \
			-close_fd_mask=3 -timeout=20 -rss_limit_mb=2048 \
			-artifact_prefix=build-fuzz/found/$$t- \
			build-fuzz/corpus/$$t tests/fuzz/corpus/$$t || \
			failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then \
		echo "fuzz: found something in:$$failed (build-fuzz/found/)"; \
		exit 1; \
	fi

# The suite: every tests/*.t under prove, against $(BUILD)/bin; the
# longest first, so that two jobs end together rather than one waiting
# for the other's last long file.
SLOW_TESTS = deploy distribute valgrind roll-zone roll schedule-run resume \
	schedule-runners schedule-kill \
	recover faults-deploy dane faults-acme secrets-net schedule db sql
TESTS = $(SLOW_TESTS:%=tests/%.t) \
	$(filter-out $(SLOW_TESTS:%=tests/%.t),$(sort $(wildcard tests/*.t)))
# Two at once: with three, acme.t's lost key change (a relay that cuts
# the request) flaked under ASan, and the suite gained 4 % (585 s
# against 608 s): the tests are bound by the CPU.
JOBS	?= 2
check: all
	PKI_BUILD=$(CURDIR)/$(BUILD) prove -j$(JOBS) --timer $(TESTS)
# The sanitizers add nothing to the files that test only shell, SQL and
# text (shellcheck, the manuals, the README, the schema, pki db, make
# install), nor to those that test what the workflows do with programs
# the other files run under them the same way: serverPKI's options, the
# alert mail, backoff and reminders over simulated days, kill -9 at each
# moment of pki schedule, the DANE roll's waits and its zone-file
# variant (dane.t runs their programs), pki distribute (deploy.t runs
# pki-deploy), the runners that share the work (schedule.t runs
# pki-select --create), the metrics file and the HTML report (shell, SQL
# and jq), the front door's issue, revoke and account commands, and the
# ACME workflows whose requests acme.t, ari.t and the fuzz corpora make
# (pki issue, pki schedule with ARI, profiles).  The faults stay:
# resume.t and recover.t kill and restart under them; Pebble and named
# killed under pki issue (faults-acme) go: acme.t runs pki-acme against
# a dead CA and a relay that loses answers, dnsup.t pki-dnsup with a
# server that does not answer.  privilege.t's setgid programs refuse
# before they read anything, and LeakSanitizer cannot run in a setgid
# process; wipe.t looks at what the normal build leaves in memory
# (ASan's shadow memory makes cores of terabytes), secrets-all.t and
# secrets-net.t at what the workflows print and keep and at the
# syscalls that make key files (their programs run under the
# sanitizers in acme.t, dnsup.t, dane.t and deploy.t).  dblink.t tests
# the database link's configuration (TLS, pg_hba, the role's grants),
# which libpq does the same under them.  acme-dns.t and passthrough.t run no line of C that
# the other files under ASan do not (gcov of each file, 2026-12-05).
ASAN_SKIP = lint man readme sql db install serverpki alerts schedule-run \
	schedule-kill roll metrics report distribute roll-zone \
	schedule-runners workflow frontdoor issue-acme schedule-acme \
	profiles privilege faults-acme wipe secrets-all secrets-net dblink \
	acme-dns passthrough
ASAN_TESTS = $(filter-out $(ASAN_SKIP:%=tests/%.t),$(TESTS))

asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g" \
		SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

check-asan: asan
	PKI_BUILD=$(CURDIR)/build-asan PKI_ASAN=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		prove -j$(JOBS) --timer $(ASAN_TESTS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/sql \
		$(DESTDIR)$(DATADIR)/sh $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)
	sed 's|^PKI_DATADIR_DEFAULT=.*|PKI_DATADIR_DEFAULT=$(DATADIR)|' \
		sh/pki > $(DESTDIR)$(BINDIR)/pki
	chmod 0755 $(DESTDIR)$(BINDIR)/pki
	install -m 0644 sh/*.sh $(DESTDIR)$(DATADIR)/sh
	install -m 0644 sql/*.sql $(DESTDIR)$(DATADIR)/sql
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 man/*.7 $(DESTDIR)$(MANDIR)/man7

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%) $(DESTDIR)$(BINDIR)/pki
	rm -rf $(DESTDIR)$(DATADIR)
	cd man && for m in *.[157]; do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m; done

lint:
	mandoc -Tlint -W warning man/*.[157]
	shellcheck -x -s sh sh/pki sh/*.sh tests/*.t tests/lib/*.sh bench/*

clean:
	rm -rf build build-asan build-fuzz

# Debian packages to build, run and test pki.
DEB_PKGS = build-essential pkg-config libssl-dev libpq-dev libjansson-dev \
	libcurl4-openssl-dev libssh-dev libldns-dev libhiredis-dev \
	postgresql jq openssl mandoc valgrind perl time shellcheck \
	bind9 bind9-utils bind9-dnsutils pebble openssh-server openssh-client \
	curl iproute2 python3 prometheus-node-exporter chromium redis-server \
	redis-tools certbot gdb strace xxd

# Pebble 2.10 (Debian forky) for the ARI tests, unpacked under var/ with
# apt-get download through a private sources list (tests/lib/get-pebble.sh);
# the tests that need it skip when it could not be fetched.
deps:
	@if [ "$$(id -u)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -q -y \
			--no-install-recommends $(DEB_PKGS); \
	else \
		echo "run as root:"; \
		echo "  apt-get install -y --no-install-recommends $(DEB_PKGS)"; \
	fi
	-@sh tests/lib/get-pebble.sh

# make demo installs what is missing first (as root), then builds.
demo:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(MAKE) deps; fi
	$(MAKE) all
	sh sh/demo.sh

# make bench installs its peers first (as root) when they are missing:
# lego, certbot and certbot's rfc2136 plugin.
BENCH_PKGS = lego certbot python3-certbot-dns-rfc2136

bench:
	@missing=$$(for p in $(DEB_PKGS) $(BENCH_PKGS); do \
		dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(MAKE) deps DEB_PKGS="$(DEB_PKGS) $(BENCH_PKGS)"; fi
	$(MAKE) all
	sh bench/localca
	sh bench/acme
	sh bench/deploy
	sh bench/schedule
