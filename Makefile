# pki - build, test, install.  See README.
#
#   make              build every program into build/bin
#   make check        run the test suite (prove, TAP)
#   make asan         build with AddressSanitizer + UBSan into build-asan/bin
#   make check-asan   run the suite against the asan build
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
COMMON	 = log opt record batch name persist secret file crypto db clock
COMMON_OBJS = $(COMMON:%=$(BUILD)/common/%.o)
BINS	 = $(PROGS:%=$(BUILD)/bin/%)
TEST_BINS = $(BUILD)/tests/test-common $(BUILD)/tests/deploy-quote

.SECONDARY:
.SECONDEXPANSION:
.PHONY: all check asan check-asan install uninstall clean deps demo bench lint

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

# The suite: every tests/*.t under prove, against $(BUILD)/bin; the
# longest first, so that two jobs end together rather than one waiting
# for the other's last long file.
SLOW_TESTS = deploy distribute valgrind roll-zone roll schedule-run resume \
	schedule-runners schedule-kill \
	recover dane schedule db sql
TESTS = $(SLOW_TESTS:%=tests/%.t) \
	$(filter-out $(SLOW_TESTS:%=tests/%.t),$(sort $(wildcard tests/*.t)))
# Two at once: with three, acme.t's lost key change (a relay that cuts
# the request) flaked under ASan, and the suite gained 4 % (585 s
# against 608 s): the tests are bound by the CPU.
JOBS	?= 2
check: all
	PKI_BUILD=$(CURDIR)/$(BUILD) prove -j$(JOBS) --timer $(TESTS)
# The sanitizers add nothing to the files that test only shell, SQL and
# text (shellcheck, the manuals, the README, the schema, pki db), nor to
# those that test what the workflows do with programs the other files
# run under them the same way: serverPKI's options, the alert mail,
# backoff and reminders over simulated days, kill -9 at each moment of
# pki schedule, the DANE roll's waits (dane.t and roll-zone.t run its
# programs).
ASAN_SKIP = lint man readme sql db serverpki alerts schedule-run \
	schedule-kill roll
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
	rm -rf build build-asan

# Debian packages to build, run and test pki.
DEB_PKGS = build-essential pkg-config libssl-dev libpq-dev libjansson-dev \
	libcurl4-openssl-dev libssh-dev libldns-dev libhiredis-dev \
	postgresql jq openssl mandoc valgrind perl time shellcheck \
	bind9 bind9-utils bind9-dnsutils pebble openssh-server openssh-client \
	curl iproute2 python3 redis-server redis-tools

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
