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
PKGS   = sofia-sip-ua libevent libconfig sqlite3 json-c
ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -Idaemon
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CLI_CFLAGS := $(shell $(PKG_CONFIG) --cflags json-c 2>/dev/null)
CLI_LIBS   := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)

# Modules of the daemon, except main (so unit tests can link the rest).
DAEMON_SRC = config.c log.c loop.c sip.c agent.c addrlist.c resolver.c store.c line.c lines.c ctl.c
DAEMON_OBJ = $(addprefix $(BUILD)/,$(DAEMON_SRC:.c=.o))
UNIT_SRC   = $(wildcard test/unit/*.c)
UNIT_OBJ   = $(addprefix $(BUILD)/unit/,$(notdir $(UNIT_SRC:.c=.o)))

.PHONY: all clean deps test unit check-config integration check-asan asan demo bench fuzz install
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

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

check-config: $(BUILD)/sipuad
	sh test/config/run.sh $(BUILD)/sipuad

integration: all
	bash test/integration/run.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan SAN=1 all

check-asan: asan
	bash test/integration/run.sh build-asan

# libFuzzer on the control request parser (clang), bounded by FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS    = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
build-fuzz/fuzz_ctl: test/fuzz/fuzz_ctl.c $(addprefix daemon/,$(DAEMON_SRC)) $(wildcard daemon/*.h)
	mkdir -p build-fuzz
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Idaemon $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ \
		test/fuzz/fuzz_ctl.c $(addprefix daemon/,$(DAEMON_SRC)) $(PKG_LIBS)

fuzz: build-fuzz/fuzz_ctl
	sh test/fuzz/run.sh build-fuzz/fuzz_ctl $(FUZZ_SECONDS)

demo: deps all
	bash scripts/demo.sh $(BUILD)

bench: deps all
	bash bench/run.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/sipuad $(DESTDIR)$(PREFIX)/sbin/sipuad
	install -m 0755 $(BUILD)/sipuactl $(DESTDIR)$(PREFIX)/bin/sipuactl

clean:
	rm -rf build build-asan build-fuzz
