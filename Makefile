# sipuad - SIP user-agent daemon. Plain make; every variable below can be
# overridden for cross builds (CC, CFLAGS, LDFLAGS, PKG_CONFIG, PREFIX, DESTDIR).

CC         ?= cc
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
DESTDIR    ?=
CFLAGS     ?= -O2 -g
LDFLAGS    ?=
WERROR     ?= -Werror
BUILD      ?= build
SAN        ?=

WARN   = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes $(WERROR)
# openssl: tlsfiles.c checks the TLS files of a config (RULES G.5) with
# the library Sofia-SIP's TLS itself uses.
PKGS   = sofia-sip-ua libevent libconfig sqlite3 json-c openssl
ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -Idaemon
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CLI_CFLAGS := $(shell $(PKG_CONFIG) --cflags json-c 2>/dev/null)
CLI_LIBS   := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)

# The pure modules: every line decision and its helpers. They link with
# no library at all (no Sofia-SIP, libevent, SQLite, libconfig), which the
# unit-pure binary below proves on every build.
PURE_SRC   = agent.c agent_status.c addrlist.c netaddr.c backoff.c srv.c verdict.c call.c sdp.c rtpport.c tlsdiag.c
PURE_OBJ   = $(addprefix $(BUILD)/,$(PURE_SRC:.c=.o))
# Modules of the daemon, except main (so unit tests can link the rest).
DAEMON_SRC = config.c log.c loop.c sip.c resolver.c store.c history.c memtrim.c line.c lines.c ctl.c notify.c $(PURE_SRC)
# The media hook (SPEC F); its own line, as other branches add to the list above.
DAEMON_SRC += hook.c calls.c
# SIP over TLS (SPEC G): the configured files, checked when a config loads,
# the certificate directory Sofia-SIP reads them from, and tlsfix.c, which
# frees what Sofia-SIP 1.12.11 leaks of each TLS connection.
DAEMON_SRC += tlsfiles.c tlsdir.c tlsfix.c
DAEMON_OBJ = $(addprefix $(BUILD)/,$(DAEMON_SRC:.c=.o))
PURE_TESTS = main.c test_agent.c test_addrlist.c test_pure.c test_call.c test_sdp.c test_tlsdiag.c
UNIT_SRC   = $(filter-out $(addprefix test/unit/,$(PURE_TESTS)),$(wildcard test/unit/*.c)) test/unit/main.c
UNIT_OBJ   = $(addprefix $(BUILD)/unit/,$(notdir $(UNIT_SRC:.c=.o)))
PURE_UNIT_OBJ = $(addprefix $(BUILD)/unit/,$(PURE_TESTS:.c=.o))

.PHONY: all clean deps test unit check-config integration check-asan asan demo bench fuzz fuzz-ctl fuzz-sdp fuzz-tlsdiag install
.PHONY: check-ship cross install-init-none install-init-procd install-init-sysv install-init-systemd
all: $(BUILD)/sipuad $(BUILD)/sipuactl

$(BUILD)/sipuad: $(BUILD)/main.o $(DAEMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The CLI is its own program in sipuactl/; of the daemon it shares only the
# headers ctl_proto.h and version.h (through -Idaemon). Its objects go to
# $(BUILD)/cli/, as $(BUILD)/sipuactl is the program.
CLI_SRC = main.c parser.c conn.c show.c xmalloc.c
CLI_OBJ = $(addprefix $(BUILD)/cli/,$(CLI_SRC:.c=.o))

$(BUILD)/sipuactl: $(CLI_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CLI_LIBS)

$(BUILD)/cli/%.o: sipuactl/%.c | $(BUILD)/cli
	$(CC) $(ALL_CFLAGS) $(CLI_CFLAGS) -MMD -c -o $@ $<

$(BUILD)/cli:
	mkdir -p $@

-include $(wildcard $(BUILD)/cli/*.d)

$(BUILD)/%.o: daemon/%.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -MMD -c -o $@ $<

$(BUILD)/unit/%.o: test/unit/%.c | $(BUILD)/unit
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -MMD -c -o $@ $<

$(BUILD)/unit-tests: $(UNIT_OBJ) $(DAEMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# No $(PKG_LIBS): a pure module that reached for a library fails to link.
$(BUILD)/unit-pure: $(PURE_UNIT_OBJ) $(PURE_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD) $(BUILD)/unit:
	mkdir -p $@

-include $(wildcard $(BUILD)/*.d $(BUILD)/unit/*.d)

# --- tests -----------------------------------------------------------------
# `make test` is what CI runs: dependencies, unit tests, config golden tests,
# the integration suite on the normal build and again on an ASan+UBSan build.
deps:
	sh scripts/deps.sh

test: deps
	sh test/run-all.sh

unit: $(BUILD)/unit-pure $(BUILD)/unit-tests
	$(BUILD)/unit-pure && $(BUILD)/unit-tests

check-config: $(BUILD)/sipuad
	sh test/config/run.sh $(BUILD)/sipuad

check-ship: all
	sh test/ship/run.sh $(BUILD)

# RULES H.4: Debian armhf sysroot, arm-linux-gnueabihf-gcc at -Werror, unit
# tests under qemu-arm (build-cross/; about 10 s once the sysroot is made).
cross:
	sh scripts/cross.sh armhf

integration: all
	bash test/integration/run.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan SAN=1 all

check-asan: asan
	bash test/integration/run.sh build-asan

# libFuzzer on the control request parser, the SDP reader and tlsdiag (clang), each
# bounded by FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS    = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
build-fuzz/fuzz_ctl: test/fuzz/fuzz_ctl.c $(addprefix daemon/,$(DAEMON_SRC)) $(wildcard daemon/*.h)
	mkdir -p build-fuzz
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Idaemon $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ \
		test/fuzz/fuzz_ctl.c $(addprefix daemon/,$(DAEMON_SRC)) $(PKG_LIBS)

# The SDP reader takes bodies off the network: sdp.c alone, no library.
build-fuzz/fuzz_sdp: test/fuzz/fuzz_sdp.c daemon/sdp.c daemon/sdp.h
	mkdir -p build-fuzz
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Idaemon $(FUZZ_FLAGS) -o $@ test/fuzz/fuzz_sdp.c daemon/sdp.c

# tlsdiag.c reads log lines a peer can put text into (RULES G.3)
build-fuzz/fuzz_tlsdiag: test/fuzz/fuzz_tlsdiag.c daemon/tlsdiag.c daemon/tlsdiag.h daemon/netaddr.c daemon/netaddr.h
	mkdir -p build-fuzz
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Idaemon $(FUZZ_FLAGS) -o $@ test/fuzz/fuzz_tlsdiag.c daemon/tlsdiag.c daemon/netaddr.c

fuzz: fuzz-ctl fuzz-sdp fuzz-tlsdiag

fuzz-ctl: build-fuzz/fuzz_ctl
	sh test/fuzz/run.sh build-fuzz/fuzz_ctl $(FUZZ_SECONDS)

fuzz-sdp: build-fuzz/fuzz_sdp
	sh test/fuzz/run.sh build-fuzz/fuzz_sdp $(FUZZ_SECONDS) test/fuzz/seeds_sdp

fuzz-tlsdiag: build-fuzz/fuzz_tlsdiag
	sh test/fuzz/run.sh build-fuzz/fuzz_tlsdiag $(FUZZ_SECONDS) test/fuzz/seeds_tlsdiag

demo: deps all
	bash scripts/demo.sh $(BUILD)

bench: deps all
	bash bench/run.sh $(BUILD)

# RULES H.3. INIT picks the init script: procd (OpenWrt), sysv (sysvinit,
# BusyBox), systemd, none. Paths in the scripts follow PREFIX/SYSCONFDIR.
# The configuration is installed only where there is none (0640: it holds
# passwords); the example always goes to the doc directory.
SYSCONFDIR ?= /etc
INIT       ?= none
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/sipuad
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL_PATHS = sed -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/usr/bin/|$(BINDIR)/|g' \
	-e 's|/etc/sipuad/|$(SYSCONFDIR)/sipuad/|g' -e 's|/etc/default/|$(SYSCONFDIR)/default/|g'
# On OpenWrt /var is a tmpfs: the database goes to flash.
INSTALL_CONF_procd = -e 's|"/var/lib/sipuad/state.db"|"$(SYSCONFDIR)/sipuad/state/state.db"|'

install: all
	@case "$(INIT)" in procd|sysv|systemd|none) ;; \
	 *) echo "make install: INIT must be procd, sysv, systemd or none, not '$(INIT)'" >&2; exit 1 ;; esac
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/sipuad
	install -m 0755 $(BUILD)/sipuad $(DESTDIR)$(SBINDIR)/sipuad
	install -m 0755 $(BUILD)/sipuactl $(DESTDIR)$(BINDIR)/sipuactl
	install -m 0644 man/sipuad.8 man/sipuactl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/sipuad.conf.5 $(DESTDIR)$(MANDIR)/man5/
	sed $(INSTALL_CONF_$(INIT)) -e '' config/sipuad.conf >$(DESTDIR)$(DOCDIR)/sipuad.conf.example
	chmod 0644 $(DESTDIR)$(DOCDIR)/sipuad.conf.example
	[ -e $(DESTDIR)$(SYSCONFDIR)/sipuad/sipuad.conf ] || \
		install -m 0640 $(DESTDIR)$(DOCDIR)/sipuad.conf.example $(DESTDIR)$(SYSCONFDIR)/sipuad/sipuad.conf
	@$(MAKE) -s install-init-$(INIT)

install-init-none:

install-init-procd:
	install -d $(DESTDIR)$(SYSCONFDIR)/init.d
	$(INSTALL_PATHS) init/sipuad.procd >$(DESTDIR)$(SYSCONFDIR)/init.d/sipuad
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/sipuad

install-init-sysv:
	install -d $(DESTDIR)$(SYSCONFDIR)/init.d $(DESTDIR)$(SYSCONFDIR)/default
	$(INSTALL_PATHS) init/sipuad.sysv >$(DESTDIR)$(SYSCONFDIR)/init.d/sipuad
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/sipuad
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/sipuad ] || \
		install -m 0644 init/sipuad.default $(DESTDIR)$(SYSCONFDIR)/default/sipuad

install-init-systemd:
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL_PATHS) init/sipuad.service >$(DESTDIR)$(UNITDIR)/sipuad.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sipuad.service
	install -m 0644 init/sipuad.sysusers $(DESTDIR)$(SYSUSERSDIR)/sipuad.conf

clean:
	rm -rf build build-asan build-fuzz build-cross
