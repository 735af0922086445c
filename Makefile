# superd - an inetd-style superserver with Lua services.

VERSION = 0.1.0
PREFIX ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
CONFIG ?= $(SYSCONFDIR)/superd/superd.conf
# The shipped scripts, as the installed configuration's script_dir.
SCRIPTDIR ?= $(DATADIR)/superd/services
# The user the installed configuration serves as (none: nobody, superd's
# default when started as root); the Debian package sets superd.
SUPERD_USER ?=

PKGS = lua5.3 libconfig openssl
DEBS = gcc make pkg-config liblua5.3-dev libconfig-dev libcmocka-dev libssl-dev openssl
TEST_DEBS = python3 rdate groff haproxy redis-server tftpd-hpa tftp-hpa fingerd finger rsync

CC ?= gcc
OPT ?= -O2
CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror \
	-DSUPERD_VERSION='"$(VERSION)"' -DSUPERD_CONFIG='"$(CONFIG)"' \
	-DSUPERD_SCRIPTS='"$(SCRIPTDIR)"' \
	$(shell pkg-config --cflags $(PKGS)) $(EXTRA_CFLAGS)
LDLIBS = $(shell pkg-config --libs $(PKGS)) -lm
CMOCKA = $(shell pkg-config --cflags --libs cmocka)

PLAIN = modules/log.c modules/loop.c modules/net.c modules/buf.c modules/conf.c \
	modules/acl.c modules/limit.c modules/proxy.c modules/stats.c \
	modules/master.c modules/confcmp.c modules/admit.c modules/listener.c modules/priv.c modules/devnull.c modules/notify.c modules/pidfile.c modules/spawner.c \
	modules/stream.c modules/confdir.c modules/confread.c
# The configuration's loaders: the main file's settings, its services and
# drop-ins, and the readers of one setting they share.
PLAIN += modules/confglobal.c modules/confservice.c modules/confdrop.c \
	modules/confget.c
# An exec service's own settings, and what its program gets.
PLAIN += modules/confexec.c modules/child.c
# Where a service listens: a port by number or name, or a unix socket.
PLAIN += modules/conflisten.c modules/unixsock.c modules/confwhere.c
# TLS: the settings, OpenSSL's contexts, the stream transport.
PLAIN += modules/conftls.c modules/tlsctx.c modules/tlspem.c modules/tlsclient.c modules/tls.c
# The control socket superctl speaks to, and the JSON it may ask for.
PLAIN += modules/control.c modules/json.c
# The binary upgrade: starting the binary anew on the listening sockets.
PLAIN += modules/reexec.c modules/upgrade.c
# -d: the double fork, the starter told once the daemon serves.
PLAIN += modules/detach.c
# superd -I: inetd.conf and xinetd files to superd.conf; plain C too.
IMPORT = modules/import.c modules/import_svc.c modules/import_prog.c \
	modules/import_inetd.c modules/import_xinetd.c modules/import_xattr.c \
	modules/import_xval.c modules/import_fold.c modules/import_out.c
LUAMODS = modules/daemon.c modules/serve.c modules/service.c modules/vm.c modules/task.c modules/conn.c modules/udp.c \
	modules/exec.c modules/relay.c modules/reconf.c modules/ctlcmd.c modules/lconnect.c modules/ldgram.c modules/lsocket.c modules/ltls.c modules/lspawn.c modules/lsuperd.c modules/sandbox.c
SRCS = superd.c $(PLAIN) $(IMPORT) $(LUAMODS)
HDRS = $(wildcard modules/*.h)
# superctl reads the configuration only for `control`: libconfig and the
# @include checks, none of superd itself.
CTL_SRCS = superctl.c modules/confread.c
CTL_LIBS = $(shell pkg-config --libs libconfig)

UNIT = $(patsubst t/unit/%.c,t/bin/%,$(wildcard t/unit/test_*.c))
ASAN_UNIT = $(patsubst t/unit/%.c,t/bin/asan/%,$(wildcard t/unit/test_*.c))
INTEG = $(patsubst t/integration/%.c,t/bin/%,$(wildcard t/integration/test_*.c))
# What every integration test links: a real superd, client sockets, processes,
# superd -I put to use, the TLS tests' certificates.
TLIB = t/sd.c t/sock.c t/proc.c t/fix.c t/imp.c t/tlsfix.c
THDRS = t/client.h $(TLIB:.c=.h)

SAN = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

.PHONY: all deps test-deps run test check sanitize clean format bench fuzz install uninstall valgrind \
	deb deb-test

all: superd superctl

superd: $(SRCS) $(HDRS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS) $(LDLIBS)

superctl: $(CTL_SRCS) $(HDRS)
	$(CC) $(CFLAGS) -o $@ $(CTL_SRCS) $(CTL_LIBS)

superd-asan: $(SRCS) $(HDRS)
	$(CC) $(CFLAGS) $(SAN) -o $@ $(SRCS) $(LDLIBS)

# Installs what is missing when root; otherwise says the one line to run.
deps:
	@missing=; \
	for p in $(DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		    grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
		else \
			echo "missing packages; run: sudo apt-get install -y$$missing"; \
			exit 1; \
		fi; \
	fi

run: deps
	$(MAKE) superd superctl
	./superd -c conf/superd.conf

t/bin/%: t/unit/%.c $(PLAIN) $(HDRS)
	@mkdir -p t/bin
	$(CC) $(CFLAGS) -Imodules -o $@ $< $(PLAIN) $(LDLIBS) $(CMOCKA) $(WRAP)

t/bin/asan/%: t/unit/%.c $(PLAIN) $(HDRS)
	@mkdir -p t/bin/asan
	$(CC) $(CFLAGS) $(SAN) -Imodules -o $@ $< $(PLAIN) $(LDLIBS) $(CMOCKA) $(WRAP)

# The timer heap's growth fails on demand there.
t/bin/test_loop t/bin/asan/test_loop: WRAP = -Wl,--wrap=realloc
# The per-source table's growth fails on demand there.
t/bin/test_admit t/bin/asan/test_admit: WRAP = -Wl,--wrap=calloc
# A new buffer fails on demand there (the scratch's owner loses its bytes).
t/bin/test_stream t/bin/asan/test_stream t/bin/test_stream_proxy \
	t/bin/asan/test_stream_proxy: WRAP = -Wl,--wrap=malloc
# accept4 runs out of descriptors on demand there.
t/bin/test_listener t/bin/asan/test_listener: WRAP = -Wl,--wrap=accept4

# Root or not, and the switch itself, are faked: the test never changes ids.
t/bin/test_priv t/bin/asan/test_priv: WRAP = -Wl,--wrap=getuid \
	-Wl,--wrap=setgroups,--wrap=initgroups,--wrap=setgid,--wrap=setuid

t/bin/%: t/integration/%.c $(TLIB) $(THDRS)
	@mkdir -p t/bin
	$(CC) $(CFLAGS) -It -o $@ $< $(TLIB) $(CMOCKA)

# The fault-injection test runs superd under this allocator (LD_PRELOAD).
t/bin/failalloc.so: t/failalloc.c
	@mkdir -p t/bin
	$(CC) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

t/bin/test_alloc_failure: t/bin/failalloc.so

# The tests also run rdate, groff, HAProxy and Redis as clients and peers, and
# in.tftpd, in.fingerd (with finger) and rsync as imported exec programs.
test-deps:
	$(MAKE) deps DEBS="$(DEBS) $(TEST_DEBS)"

test: test-deps
	$(MAKE) check

check: superd superctl $(UNIT) $(INTEG)
	@sh t/run.sh ./superd $(UNIT) $(INTEG)

# The integration tests again, against a server built with ASan and UBSan.
sanitize: test-deps
	$(MAKE) superd-asan superctl $(INTEG) $(ASAN_UNIT)
	@CHURN=20000 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    LSAN_OPTIONS=suppressions=t/fuzz/lsan.supp \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    sh t/run.sh ./superd-asan $(ASAN_UNIT) $(INTEG)

BENCH_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror
SSL_FLAGS = $(shell pkg-config --cflags --libs openssl)

bench/loadgen: bench/loadgen.c
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(SSL_FLAGS) -lpthread -lm

bench/ref: bench/ref.c
	$(CC) $(BENCH_CFLAGS) -o $@ $<

bench/ref_tls: bench/ref_tls.c
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(SSL_FLAGS)

# superd against the hand-written reference server, in one run; QUICK=1 for a short one.
bench: deps
	$(MAKE) superd bench/loadgen bench/ref bench/ref_tls
	QUICK=$(QUICK) BENCH_ONLY=$(BENCH_ONLY) sh bench/run.sh

FUZZ_DEBS = clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60
FUZZ = clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-Imodules

t/bin/fuzz_conf: t/fuzz/fuzz_conf.c $(PLAIN) $(HDRS)
	@mkdir -p t/bin
	$(FUZZ) -o $@ $< $(PLAIN) $(shell pkg-config --libs libconfig openssl) -lm

t/bin/fuzz_buf: t/fuzz/fuzz_buf.c modules/buf.c modules/buf.h
	@mkdir -p t/bin
	$(FUZZ) -o $@ $< modules/buf.c

# Each fuzzer for FUZZ_SECONDS on a copy of its seed corpus.
fuzz:
	$(MAKE) deps DEBS="$(DEBS) $(FUZZ_DEBS)"
	$(MAKE) t/bin/fuzz_conf t/bin/fuzz_buf
	@for f in conf buf; do \
		mkdir -p t/bin/corpus-$$f && cp t/fuzz/corpus/$$f/* t/bin/corpus-$$f/ && \
		LSAN_OPTIONS=suppressions=t/fuzz/lsan.supp t/bin/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		    -artifact_prefix=t/bin/crash-$$f- t/bin/corpus-$$f || exit 1; \
	done

SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@DATADIR@|$(DATADIR)|g' -e 's|@SCRIPTDIR@|$(SCRIPTDIR)|g'
SCRIPTS = $(wildcard services/*.lua)
MANPAGES = man/superd.8 man/superd.conf.5 man/superd-lua.7 man/superctl.8

# Built for the install, so its default -c is the installed config path.
superd.inst: FORCE
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS) $(LDLIBS)

superctl.inst: FORCE
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CTL_SRCS) $(CTL_LIBS)

FORCE:

# The example configuration points at the installed scripts and quotes, and
# reads drop-in files from conf.d beside it.
install: superd.inst superctl.inst
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/superd/conf.d \
	    $(DESTDIR)$(SCRIPTDIR)/lib $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSTEMDDIR)
	install -m 755 superd.inst $(DESTDIR)$(SBINDIR)/superd
	install -m 755 superctl.inst $(DESTDIR)$(SBINDIR)/superctl

	install -m 644 $(SCRIPTS) $(DESTDIR)$(SCRIPTDIR)/
	install -m 644 services/lib/*.lua $(DESTDIR)$(SCRIPTDIR)/lib/
	install -m 644 conf/quotes.txt $(DESTDIR)$(DATADIR)/superd/
	sed -e 's|^script_dir *=.*|script_dir   = "$(SCRIPTDIR)";|' \
	    -e '/^script_dir/a include_dir  = "conf.d";' \
	    $(if $(SUPERD_USER),-e '/^log_level/a user         = "$(SUPERD_USER)";') \
	    -e 's|quotes = "quotes.txt"|quotes = "$(DATADIR)/superd/quotes.txt"|' \
	    conf/superd.conf > $(DESTDIR)$(SYSCONFDIR)/superd/superd.conf
	for m in $(MANPAGES); do \
		s=$${m##*.}; \
		$(SUBST) $$m > $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; \
	done
	$(SUBST) superd.service > $(DESTDIR)$(SYSTEMDDIR)/superd.service
	$(SUBST) superd.socket > $(DESTDIR)$(SYSTEMDDIR)/superd.socket

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/superd $(DESTDIR)$(SBINDIR)/superctl \
	    $(DESTDIR)$(SYSCONFDIR)/superd/superd.conf \
	    $(DESTDIR)$(MANDIR)/man8/superd.8 \
	    $(DESTDIR)$(MANDIR)/man8/superctl.8 \
	    $(DESTDIR)$(MANDIR)/man5/superd.conf.5 \
	    $(DESTDIR)$(MANDIR)/man7/superd-lua.7 \
	    $(DESTDIR)$(SYSTEMDDIR)/superd.service \
	    $(DESTDIR)$(SYSTEMDDIR)/superd.socket \
	    $(DESTDIR)$(DATADIR)/superd/quotes.txt
	rm -f $(addprefix $(DESTDIR)$(SCRIPTDIR)/,$(notdir $(SCRIPTS)))
	rm -f $(addprefix $(DESTDIR)$(SCRIPTDIR)/lib/,$(notdir $(wildcard services/lib/*.lua)))
	-rmdir $(DESTDIR)$(SCRIPTDIR)/lib $(DESTDIR)$(SCRIPTDIR) \
	    $(DESTDIR)$(DATADIR)/superd $(DESTDIR)$(SYSCONFDIR)/superd/conf.d \
	    $(DESTDIR)$(SYSCONFDIR)/superd

# The integration tests with superd under valgrind's memcheck.
# (the timing-free ones: memcheck runs superd some twenty times slower;
# test_tls's bounds on time are stretched TLS_SLOW times).
VALGRIND_TESTS ?= t/bin/test_smoke t/bin/test_lifecycle t/bin/test_churn \
    t/bin/test_tls
valgrind: deps
	$(MAKE) deps DEBS=valgrind
	$(MAKE) superd $(VALGRIND_TESTS)
	CHURN=3000 TLS_SLOW=10 sh t/run.sh t/valgrind.sh $(VALGRIND_TESTS)

# The Debian package, built in a copy under build/deb (dpkg-buildpackage
# writes beside the source tree) from the files git knows, untracked ones
# too, so that what is not committed yet is packaged as well.
DEB_DEBS = debhelper dpkg-dev lintian adduser
DEBDIR = build/deb
deb:
	$(MAKE) deps DEBS="$(DEBS) $(DEB_DEBS)"
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = "$(VERSION)" ] || \
	    { echo "debian/changelog is at $$v, the Makefile at $(VERSION)"; \
	    exit 1; }
	rm -rf $(DEBDIR)
	mkdir -p $(DEBDIR)/superd-$(VERSION)
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z -c -o --exclude-standard | \
		    tar --null --ignore-failed-read -T - -cf -; \
	else \
		tar --exclude=./build --exclude=./.git -cf - .; \
	fi | tar -xf - -C $(DEBDIR)/superd-$(VERSION)
	cd $(DEBDIR)/superd-$(VERSION) && dpkg-buildpackage -us -uc
	@echo "built: $$(ls $(DEBDIR)/superd_*.deb)"

# Builds the package, installs it, checks it and purges it (as root only).
deb-test:
	MAKE="$(MAKE)" sh t/deb.sh

format:
	clang-format -i superd.c superctl.c modules/*.[ch] t/*.[ch] t/*/*.c

clean:
	rm -rf superd superd-asan superd.inst superctl superctl.inst t/bin $(DEBDIR)
