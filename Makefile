# MeshHook build. `make run` and `make test` are the two commands of the README; everything else
# here serves them. Plain make (STYLE.md §9): one static library of src/ minus main.c, linked into
# the binary and into every test.

PKGS      := libmicrohttpd libpq libcurl jansson openssl libargon2 libpcre2-8
CC        ?= cc
VARIANT   ?= release
BUILD     := build/$(VARIANT)

WARN      := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wvla
HARDEN    := -fstack-protector-strong -D_FORTIFY_SOURCE=2
BASEFLAGS := -std=c17 -D_GNU_SOURCE -g -pthread -Isrc -Itests/unit -I$(BUILD)/gen $(WARN)

ifeq ($(VARIANT),asan)
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
         -DMH_DEBUG
  LDSAN := -fsanitize=address,undefined
else ifeq ($(VARIANT),tsan)
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=thread -DMH_DEBUG
  LDSAN := -fsanitize=thread
else
  OPT := -O2 $(HARDEN)
  LDSAN :=
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  := $(BASEFLAGS) $(OPT) $(EXTRA_CFLAGS)
LDFLAGS := -pthread $(LDSAN) $(EXTRA_LDFLAGS)
LDLIBS   = $(PKG_LIBS) -lm

LIB_SRC    := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC)) $(BUILD)/gen/migrations_data.o \
              $(BUILD)/gen/templates_data.o $(BUILD)/gen/openapi_data.o $(BUILD)/gen/web_assets.o
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
ITEST_SRC  := $(wildcard tests/integration/itest_*.c)
ITEST_BIN  := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(ITEST_SRC))
ITEST_LIB  := $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(ITEST_SRC),$(wildcard tests/integration/*.c)))
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
TEMPLATES  := $(sort $(wildcard templates/*.json))

.PHONY: all build run install uninstall test test-ha test-unit test-integration unit-tests \
        integration-tests bootstrap clean fuzz bench format check-format tidy asan web
.DEFAULT_GOAL := all
.SECONDARY:

all: $(BUILD)/meshhook $(UNIT_BIN) $(ITEST_BIN)
	@ln -sf $(BUILD)/meshhook meshhook 2>/dev/null || true

build: all

asan:
	@$(MAKE) --no-print-directory VARIANT=asan all

web: build/web/web_assets.c

$(BUILD)/libmeshhook.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/meshhook: $(BUILD)/src/main.o $(BUILD)/libmeshhook.a
	@echo "  LD  $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

# The folder too: removing a migration changes no remaining file, only the folder.
$(BUILD)/gen/migrations_data.c: $(MIGRATIONS) migrations scripts/embed-files.sh
	@mkdir -p $(@D)
	@sh scripts/embed-files.sh mh_migration_files $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations_data.o: $(BUILD)/gen/migrations_data.c
	@$(CC) $(CFLAGS) -c -o $@ $<

# The starter workflow templates that GET /api/workflow-templates serves.
$(BUILD)/gen/templates_data.c: $(TEMPLATES) templates scripts/embed-files.sh
	@mkdir -p $(@D)
	@sh scripts/embed-files.sh mh_workflow_template_files $(TEMPLATES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/templates_data.o: $(BUILD)/gen/templates_data.c
	@$(CC) $(CFLAGS) -c -o $@ $<

# The OpenAPI document that GET /api/openapi.json serves and the tests check (docs/api.md).
$(BUILD)/gen/openapi_data.c: api/openapi.json scripts/embed-files.sh
	@mkdir -p $(@D)
	@sh scripts/embed-files.sh mh_openapi_files api/openapi.json > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/openapi_data.o: $(BUILD)/gen/openapi_data.c
	@$(CC) $(CFLAGS) -c -o $@ $<

# The web app (web/, docs/ui.md): `npm ci` when the lockfile changes, `vite build` when a source
# changes, then the built files become a C table (scripts/embed-web.mjs). Everything lands in
# build/web/, shared by every variant: the ASan, TSan and scan builds compile the same generated
# file and never run npm or vite again.
WEB_SRC := $(shell find web/src web/static -type f ! -name '*.test.ts' 2>/dev/null) \
           web/package.json web/svelte.config.js web/vite.config.ts web/tsconfig.json

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	@echo "  NPM ci (web/)"
	@cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build/web/vite.stamp: web/node_modules/.package-lock.json $(WEB_SRC)
	@echo "  VITE build (web/)"
	@mkdir -p $(@D)
	@cd web && npx --no-install vite build --logLevel warn
	@touch $@

build/web/web_assets.c: build/web/vite.stamp scripts/embed-web.mjs
	@node scripts/embed-web.mjs build/web/dist > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/web_assets.o: build/web/web_assets.c src/http/web_assets.h
	@mkdir -p $(@D)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/unit/harness.o $(BUILD)/libmeshhook.a
	@echo "  LD  $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(ITEST_LIB) \
                              $(BUILD)/tests/unit/harness.o $(BUILD)/libmeshhook.a
	@echo "  LD  $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bootstrap:
	@sh scripts/bootstrap.sh

run: bootstrap
	@$(MAKE) --no-print-directory all
	@sh scripts/run.sh

test: bootstrap
	@sh scripts/bootstrap.sh clang clang-tools clang-tidy chromium prometheus
	@$(MAKE) --no-print-directory VARIANT=release all
	@$(MAKE) --no-print-directory VARIANT=asan all
	@$(MAKE) --no-print-directory VARIANT=tsan build/tsan/meshhook \
	        build/tsan/tests/integration/itest_db_pool
	@bash tests/run.sh $(SUITE)

# High availability (docs/operations.md): pg_auto_failover's monitor and two nodes on loopback,
# the primary killed under load (tests/integration/itest_ha.c). Opt-in: it takes minutes.
test-ha: bootstrap
	@sh scripts/bootstrap.sh postgresql-15-auto-failover pg-auto-failover-cli
	@$(MAKE) --no-print-directory VARIANT=release all
	@$(MAKE) --no-print-directory VARIANT=asan all
	@MH_HA=1 MH_NO_TSAN=1 MH_T_TIMEOUT=900 bash tests/run.sh integration itest_ha

# The developer loop: a single suite builds only what it runs, not all three variants.
# `make test-unit [T=filter]`: the unit tests of the release and ASan builds (no server binaries,
# no integration tests, no TSan). `make test-integration [T=filter]`: the ASan server and the
# integration tests, and the TSan server only unless MH_NO_TSAN is set. T filters by test name,
# as the second argument of tests/run.sh does.
test-unit:
	@$(MAKE) --no-print-directory VARIANT=release unit-tests
	@$(MAKE) --no-print-directory VARIANT=asan unit-tests
	@bash tests/run.sh unit $(T)

test-integration:
	@$(MAKE) --no-print-directory VARIANT=asan build/asan/meshhook integration-tests
	@[ -n "$${MH_NO_TSAN:-}" ] || $(MAKE) --no-print-directory VARIANT=tsan build/tsan/meshhook
	@bash tests/run.sh integration $(T)

unit-tests: $(UNIT_BIN)

integration-tests: $(ITEST_BIN)

# `make install [PREFIX=/usr/local] [DESTDIR=]`: the release binary, the systemd unit (its
# ExecStart naming the installed binary), the environment file's example and the documentation
# (docs/deployment.md). Builds nothing as root by itself: run `make` first.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR  ?= $(PREFIX)/share/doc/meshhook

install:
	@test -x build/release/meshhook || { echo "install: run make first" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/docs
	install -m 0755 build/release/meshhook $(DESTDIR)$(BINDIR)/meshhook
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/meshhook.service > $(DESTDIR)$(UNITDIR)/meshhook.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/meshhook.service
	install -m 0644 packaging/meshhook.env.example README.md LICENSE $(DESTDIR)$(DOCDIR)
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/meshhook $(DESTDIR)$(UNITDIR)/meshhook.service
	rm -rf $(DESTDIR)$(DOCDIR)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

# clang-tidy with the checks .clang-tidy chooses (and says why); part of tests/run.sh checks.
tidy:
	@sh scripts/tidy.sh

fuzz:
	@sh tests/fuzz/run.sh $(or $(FUZZ_SECONDS),60)

bench:
	@sh bench/run.sh

clean:
	rm -rf build meshhook

-include $(shell find build -name '*.d' 2>/dev/null)
