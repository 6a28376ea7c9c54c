# Branchline: one Makefile.
#
#   make deps       install the Debian packages we build and test with
#   make            build bin/bl-hub and bin/bl-node
#   make test       deps, then build with ASan+UBSan and run unit, fuzz and
#                   process tests
#   make demo       deps, then a hub, two stores and a warehouse on 127.0.0.1
#   make bench      deps, then the benchmark in tests/bench/
#   make fuzz       long libFuzzer runs of every decoder (needs clang)
#
# Only `make deps` installs anything (deploy/install-deps.sh); demo, test and
# bench run it first, then go on in a second make that sees the libraries.
#
# Two layers, each a library: the sync core (sync/*.c: clock, codec, op
# log, protocol, keys...) and the business domain with its HTTP/CLI surface
# (sync/domain/, sync/api/). The core is compiled without the domain's
# include paths, so it cannot reach up into it.

PKGS := libzmq libsodium libcbor libevent libevent_pthreads jansson sqlite3

CC ?= cc
WARN := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Werror
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libpq: only the hubs' PostgreSQL modules (hub/pg*.c, hub/cluster.c), so only
# bl-hub and the tests that use it link it.
PG_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null)
PG_LIBS := $(shell pkg-config --libs libpq 2>/dev/null)
CFLAGS ?= -O2 -g
CORE_CFLAGS = $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isync -Ibuild -MMD -MP
ALL_CFLAGS = $(CORE_CFLAGS) -Isync/domain -Isync/api

# Two variants of everything: release in build/rel, sanitized in build/san.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

CORE_SRC := $(wildcard sync/*.c)
DOMAIN_SRC := $(wildcard sync/domain/*.c sync/api/*.c)
NODE_SRC := $(wildcard node/*.c)
HUB_SRC := $(wildcard hub/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
CORE_UNIT_SRC := $(wildcard tests/unit/core/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
SCHEMA := $(wildcard schema/*.sql schema/hub/*.sql schema/node/*.sql)

.PHONY: all deps test test-run check format demo demo-run bench bench-run fuzz clean
# Keep every object: test and tool objects are intermediates to make, which
# would delete them after the run and rebuild them on the next.
.SECONDARY:
all: bin/bl-hub bin/bl-node

deps:
	@./deploy/install-deps.sh

build/schema.c: $(SCHEMA) schema/embed.sh
	@mkdir -p build
	@echo "  GEN     $@"
	@sh schema/embed.sh schema > $@.tmp && mv $@.tmp $@

# The console's files (hub/console/), compiled into bl-hub as a header that
# hub/console.c includes.
CONSOLE_FILES := $(wildcard hub/console/*.html hub/console/*.css hub/console/*.js)
build/console_files.h: $(CONSOLE_FILES) hub/console/embed.sh
	@mkdir -p build
	@echo "  GEN     $@"
	@sh hub/console/embed.sh $(CONSOLE_FILES) > $@.tmp && mv $@.tmp $@
build/rel/hub/console.o build/san/hub/console.o: build/console_files.h

# $(1): variant dir, $(2): extra flags
define variant
$(1)/sync/%.o: sync/%.c | build/schema.c
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	@$$(CC) $$(CORE_CFLAGS) $(2) -c $$< -o $$@
$(1)/sync/domain/%.o: sync/domain/%.c | build/schema.c
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	@$$(CC) $$(ALL_CFLAGS) $(2) -c $$< -o $$@
$(1)/sync/api/%.o: sync/api/%.c | build/schema.c
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	@$$(CC) $$(ALL_CFLAGS) $(2) -c $$< -o $$@
$(1)/tests/unit/core/%.o: tests/unit/core/%.c
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	@$$(CC) $$(CORE_CFLAGS) -Itests/unit $(2) -c $$< -o $$@
$(1)/%.o: %.c | build/schema.c
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	@$$(CC) $$(ALL_CFLAGS) $(2) -c $$< -o $$@
$(1)/build/schema.o: build/schema.c
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	@$$(CC) $$(CORE_CFLAGS) $(2) -c $$< -o $$@
$(1)/libblcore.a: $(patsubst %.c,$(1)/%.o,$(CORE_SRC)) $(1)/build/schema.o
	@echo "  AR      $$@"
	@rm -f $$@ && $$(AR) rcs $$@ $$^
$(1)/libbldomain.a: $(patsubst %.c,$(1)/%.o,$(DOMAIN_SRC))
	@echo "  AR      $$@"
	@rm -f $$@ && $$(AR) rcs $$@ $$^
$(1)/hub/pg.o $(1)/hub/pglog.o $(1)/hub/cluster.o: ALL_CFLAGS += $$(PG_CFLAGS)
$(1)/bl-hub: $(patsubst %.c,$(1)/%.o,$(HUB_SRC)) $(1)/libbldomain.a $(1)/libblcore.a
	@echo "  LD      $$@"
	@$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS) $$(PG_LIBS)
$(1)/bl-node: $(patsubst %.c,$(1)/%.o,$(NODE_SRC)) $(1)/libbldomain.a $(1)/libblcore.a
	@echo "  LD      $$@"
	@$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS)
-include $$(wildcard $(1)/*/*.d $(1)/*/*/*.d $(1)/*/*/*/*.d)
endef

$(eval $(call variant,build/rel,))
$(eval $(call variant,build/san,$(SAN_FLAGS)))

bin/%: build/rel/%
	@mkdir -p bin
	@cp $< $@.tmp && mv -f $@.tmp $@

# ---- tests ----
SAN_LIBS := build/san/libbldomain.a build/san/libblcore.a
build/san/tests/unit/core/%: build/san/tests/unit/core/%.o build/san/tests/unit/harness.o build/san/libblcore.a
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)
build/san/tests/unit/%: build/san/tests/unit/%.o build/san/tests/unit/harness.o $(SAN_LIBS)
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)
# The domain's merge tests share domain_harness (replicas, snapshots, the
# per-rule runner); the shorter stem makes this rule win over the one above.
build/san/tests/unit/test_domain_%: build/san/tests/unit/test_domain_%.o build/san/tests/unit/harness.o build/san/tests/unit/domain_harness.o $(SAN_LIBS)
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)
# The shared op log's test links the hub's pglog and libpq.
build/san/tests/unit/test_pglog.o: ALL_CFLAGS += $(PG_CFLAGS) -Ihub
build/san/tests/unit/test_pglog: build/san/tests/unit/test_pglog.o build/san/tests/unit/harness.o build/san/hub/pglog.o build/san/hub/pg.o $(SAN_LIBS)
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) $(PG_LIBS)
# The hubs' shared registry's test: the hub's cluster and pglog, libpq.
build/san/tests/unit/test_cluster.o: ALL_CFLAGS += $(PG_CFLAGS) -Ihub
build/san/tests/unit/test_cluster: build/san/tests/unit/test_cluster.o build/san/tests/unit/harness.o build/san/hub/cluster.o build/san/hub/pglog.o build/san/hub/pg.o $(SAN_LIBS)
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) $(PG_LIBS)
build/san/tests/fuzz/%: build/san/tests/fuzz/%.o build/san/tests/fuzz/driver.o $(SAN_LIBS)
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)
build/san/tests/tools/%: build/san/tests/tools/%.o $(SAN_LIBS)
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

UNIT_BIN := $(patsubst tests/unit/%.c,build/san/tests/unit/%,$(UNIT_SRC))
CORE_UNIT_BIN := $(patsubst tests/unit/core/%.c,build/san/tests/unit/core/%,$(CORE_UNIT_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build/san/tests/fuzz/%,$(FUZZ_SRC))

test: deps
	@$(MAKE) --no-print-directory test-run
# The release build too: make demo and make install use it, and -O2 finds
# warnings the sanitized build does not.
test-run: all $(UNIT_BIN) $(CORE_UNIT_BIN) $(FUZZ_BIN) build/san/bl-hub \
	build/san/bl-node build/san/tests/tools/blpoke \
	build/san/tests/tools/blrelay build/san/tests/tools/blmangle \
	build/san/tests/tools/blforge build/san/tests/tools/blswarm \
	build/san/tests/tools/blflood
	@tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory demo-run
demo-run: all
	@deploy/demo.sh

BENCH_SRC := $(wildcard tests/bench/*.c)
build/rel/tests/bench/blbench: $(patsubst %.c,build/rel/%.o,$(BENCH_SRC)) build/rel/libbldomain.a build/rel/libblcore.a
	@echo "  LD      $@"
	@$(CC) -o $@ $^ $(PKG_LIBS) -lpthread -lm

bench: deps
	@$(MAKE) --no-print-directory bench-run
bench-run: all build/rel/tests/bench/blbench
	@build/rel/tests/bench/blbench .

fuzz:
	@tests/fuzz/libfuzzer.sh

# `make test` already checks the layout (tests/format.sh, its first step);
# `make check` is the same run under the name other projects use.
check: test
format:
	clang-format -i $$(find sync node hub tests -name '*.[ch]')

clean:
	rm -rf build bin

# ---- install ----
# make install [PREFIX=/usr/local] [DESTDIR=]: the release binaries, the
# systemd units (hardened; they run as the user branchline, which
# sysusers.d creates, in /var/lib/branchline, which tmpfiles.d makes), the
# console's files, the README and example configs, where Debian puts each: PREFIX=/usr for a package, the default
# /usr/local for a machine's own.
.PHONY: install
PREFIX ?= /usr/local
INSTALL ?= install
BINDIR = $(PREFIX)/bin
UNITDIR = $(PREFIX)/lib/systemd/system
SYSUSERSDIR = $(PREFIX)/lib/sysusers.d
TMPFILESDIR = $(PREFIX)/lib/tmpfiles.d
SHAREDIR = $(PREFIX)/share/branchline
DOCDIR = $(PREFIX)/share/doc/branchline
# The binaries installed: the release build, unless INSTALL_FROM names
# another folder holding bl-hub and bl-node (the test installs build/san).
INSTALL_FROM ?= bin
install: $(INSTALL_FROM)/bl-hub $(INSTALL_FROM)/bl-node
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(SHAREDIR)/console \
		$(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 0755 $(INSTALL_FROM)/bl-hub $(INSTALL_FROM)/bl-node $(DESTDIR)$(BINDIR)/
	for u in bl-hub bl-node; do \
		sed 's|@BINDIR@|$(BINDIR)|g; s|@DOCDIR@|$(DOCDIR)|g' \
			deploy/$$u.service.in > $(DESTDIR)$(UNITDIR)/$$u.service && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.service || exit 1; \
	done
	$(INSTALL) -m 0644 deploy/branchline.sysusers $(DESTDIR)$(SYSUSERSDIR)/branchline.conf
	$(INSTALL) -m 0644 deploy/branchline.tmpfiles $(DESTDIR)$(TMPFILESDIR)/branchline.conf
	$(INSTALL) -m 0644 $(CONSOLE_FILES) $(DESTDIR)$(SHAREDIR)/console/
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 deploy/hub.config.example $(DESTDIR)$(DOCDIR)/examples/hub.config
	$(INSTALL) -m 0644 deploy/node.config.example $(DESTDIR)$(DOCDIR)/examples/node.config
