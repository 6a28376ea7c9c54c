# Branchline: one non-recursive Makefile.
#
#   make            build bin/bl-hub and bin/bl-node (installs missing deps)
#   make test       build with ASan+UBSan and run unit, fuzz and process tests
#   make demo       run a hub, two stores and a warehouse on 127.0.0.1
#   make bench      run the benchmark in tests/bench/
#   make fuzz       long libFuzzer runs of every decoder (needs clang)

PKGS := libzmq libsodium libcbor libevent libevent_pthreads jansson sqlite3
TOOLS := curl jq sqlite3 socat
DEPS_OK := $(shell pkg-config --exists $(PKGS) 2>/dev/null && \
	for t in $(TOOLS); do command -v $$t >/dev/null || exit 1; done && echo yes)
ifneq ($(DEPS_OK),yes)
  $(info make: installing missing dependencies (deploy/install-deps.sh))
  DEPS_RC := $(shell ./deploy/install-deps.sh >&2; echo $$?)
  ifneq ($(DEPS_RC),0)
    $(error deploy/install-deps.sh failed: install the packages it names, then retry)
  endif
endif

CC ?= cc
WARN := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Werror -Wno-format-truncation
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isync -Ibuild -MMD -MP

# Two variants of everything: release in build/rel, sanitized in build/san.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

SYNC_SRC := $(wildcard sync/*.c)
NODE_SRC := $(wildcard node/*.c)
HUB_SRC := $(wildcard hub/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
SCHEMA := $(wildcard schema/*.sql schema/hub/*.sql schema/node/*.sql)

.PHONY: all test demo bench fuzz clean
# Keep every object: test and tool objects are intermediates to make, which
# would delete them after the run and rebuild them on the next.
.SECONDARY:
all: bin/bl-hub bin/bl-node

build/schema.c: $(SCHEMA) schema/embed.sh
	@mkdir -p build
	@echo "  GEN     $@"
	@sh schema/embed.sh schema > $@.tmp && mv $@.tmp $@

# $(1): variant dir, $(2): extra flags
define variant
$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	@$$(CC) $$(ALL_CFLAGS) $(2) -c $$< -o $$@
$(1)/build/schema.o: build/schema.c
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	@$$(CC) $$(ALL_CFLAGS) $(2) -c $$< -o $$@
$(1)/libblsync.a: $(patsubst %.c,$(1)/%.o,$(SYNC_SRC)) $(1)/build/schema.o
	@echo "  AR      $$@"
	@$$(AR) rcs $$@ $$^
$(1)/bl-hub: $(patsubst %.c,$(1)/%.o,$(HUB_SRC)) $(1)/libblsync.a
	@echo "  LD      $$@"
	@$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS)
$(1)/bl-node: $(patsubst %.c,$(1)/%.o,$(NODE_SRC)) $(1)/libblsync.a
	@echo "  LD      $$@"
	@$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS)
-include $$(wildcard $(1)/*/*.d $(1)/*/*/*.d)
endef

$(eval $(call variant,build/rel,))
$(eval $(call variant,build/san,$(SAN_FLAGS)))

# Objects need the generated schema header-free table only at link time, but
# every object depends on schema.h being present.
$(patsubst %.c,build/rel/%.o,$(SYNC_SRC)) $(patsubst %.c,build/san/%.o,$(SYNC_SRC)): build/schema.c

bin/%: build/rel/%
	@mkdir -p bin
	@cp $< $@.tmp && mv -f $@.tmp $@

# ---- tests ----
build/san/tests/unit/%: build/san/tests/unit/%.o build/san/tests/unit/harness.o build/san/libblsync.a
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)
build/san/tests/fuzz/%: build/san/tests/fuzz/%.o build/san/tests/fuzz/driver.o build/san/libblsync.a
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

build/san/tests/tools/%: build/san/tests/tools/%.o build/san/libblsync.a
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

UNIT_BIN := $(patsubst tests/unit/%.c,build/san/tests/unit/%,$(UNIT_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build/san/tests/fuzz/%,$(FUZZ_SRC))

test: $(UNIT_BIN) $(FUZZ_BIN) build/san/bl-hub build/san/bl-node \
	build/san/tests/tools/blpoke
	@tests/run.sh

demo: all
	@deploy/demo.sh

BENCH_SRC := $(wildcard tests/bench/*.c)
build/rel/tests/bench/blbench: $(patsubst %.c,build/rel/%.o,$(BENCH_SRC)) build/rel/libblsync.a
	@echo "  LD      $@"
	@$(CC) -o $@ $^ $(PKG_LIBS) -lpthread -lm

bench: all build/rel/tests/bench/blbench
	@build/rel/tests/bench/blbench .

fuzz:
	@tests/fuzz/libfuzzer.sh

clean:
	rm -rf build bin
