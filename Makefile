# imapscript — build, test, install.
# `make` builds build/imapscript and the Lua C module; `make check` runs every test.

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
LUADIR   ?= $(PREFIX)/share/lua/5.4
LUACDIR  ?= $(PREFIX)/lib/lua/5.4
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/imapscript
UNITDIR  ?= $(PREFIX)/lib/systemd/user
VERSION  := 0.1.0

CC       ?= cc
FUZZ_CC  ?= clang
PKGS     := lua5.4 openssl libpcre2-8 zlib icu-uc sqlite3
# Logging in: GNU SASL (SASL mechanisms), libcurl (OAuth2 token endpoints), jansson (their JSON).
AUTH_PKGS := libgsasl libcurl jansson
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(AUTH_PKGS) 2>/dev/null)
# Line editing for the -i prompt: the program only, not the Lua module.
EDIT_LIBS  = $(shell pkg-config --libs libedit 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs openssl libpcre2-8 zlib icu-uc sqlite3 $(AUTH_PKGS) 2>/dev/null)
LUA_LIBS   = $(shell pkg-config --libs lua5.4 2>/dev/null)

CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
DEFS     := -D_GNU_SOURCE -DIMAPSCRIPT_VERSION='"$(VERSION)"' -DIMAPSCRIPT_LUADIR='"$(LUADIR)"'
ALL_CFLAGS = $(WARN) $(DEFS) -fPIC $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -Isrc
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

B        := build
# The core: every C file in src/ except the program's own and the Lua glue.
PROG_SRC := src/main.c src/repl.c
PROG_OBJ := $(PROG_SRC:src/%.c=$(B)/obj/%.o)
CORE_SRC := $(filter-out $(PROG_SRC) src/lua_%.c,$(wildcard src/*.c))
LUA_SRC  := $(wildcard src/lua_*.c)
CORE_OBJ := $(CORE_SRC:src/%.c=$(B)/obj/%.o)
LUA_OBJ  := $(LUA_SRC:src/%.c=$(B)/obj/%.o)
ASAN_CORE_OBJ := $(CORE_SRC:src/%.c=$(B)/asan/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
ASAN_UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/asan/tests/%)
# C integration tests talk to the Dovecot test bed (tests/run-integration starts it).
ITEST_SRC := $(wildcard tests/integration/itest_*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(B)/itests/%)

.PHONY: all deps check unit unit-asan spec integration fuzz fuzz-regress bench-parser \
        demo install clean testbed-stop deb package module install-module
all: $(B)/imapscript $(B)/lua/imapscript/core.so

deps:
	@scripts/install-deps

$(B)/obj/%.o: src/%.c $(wildcard src/*.h) | $(B)/obj
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/asan/obj/%.o: src/%.c $(wildcard src/*.h) | $(B)/asan/obj
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -c $< -o $@
$(B)/obj $(B)/asan/obj $(B)/tests $(B)/asan/tests $(B)/itests $(B)/lua/imapscript:
	mkdir -p $@

$(B)/libcore.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^
$(B)/asan/libcore.a: $(ASAN_CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

# main.o holds LUADIR: rebuild it when PREFIX or LUADIR change.
$(B)/luadir.txt: FORCE | $(B)/obj
	@echo '$(LUADIR)' | cmp -s - $@ || echo '$(LUADIR)' > $@
$(B)/obj/main.o: $(B)/luadir.txt
.PHONY: FORCE
FORCE:

$(B)/imapscript: $(PROG_OBJ) $(LUA_OBJ) $(B)/libcore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LUA_LIBS) $(EDIT_LIBS) -lm -Wl,-E

# The C module for the stock lua5.4 interpreter: `require "imapscript"`.
$(B)/lua/imapscript/core.so: $(LUA_OBJ) $(B)/libcore.a | $(B)/lua/imapscript
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -o $@ $^ $(PKG_LIBS)

$(B)/tests/%: tests/unit/%.c tests/unit/check.h $(B)/libcore.a | $(B)/tests
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(B)/libcore.a $(PKG_LIBS) $(LUA_LIBS) -lm
$(B)/asan/tests/%: tests/unit/%.c tests/unit/check.h $(B)/asan/libcore.a | $(B)/asan/tests
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -Itests/unit -o $@ $< $(B)/asan/libcore.a $(PKG_LIBS) $(LUA_LIBS) -lm

$(B)/itests/%: tests/integration/%.c tests/unit/check.h $(wildcard tests/integration/*.h) $(B)/asan/libcore.a | $(B)/itests
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -Itests/unit -o $@ $< $(B)/asan/libcore.a $(PKG_LIBS) $(LUA_LIBS) -lm

# Test tools (mail seeder, round-trip counting proxy): one C file each.
TOOLS := $(patsubst tests/tools/%.c,$(B)/%,$(wildcard tests/tools/*.c))
$(B)/%: tests/tools/%.c
	@mkdir -p $(B)
	$(CC) $(WARN) $(DEFS) $(CFLAGS) -o $@ $<
# The fake OAuth2 provider serves HTTPS: it needs OpenSSL.
$(B)/fakeoauth: tests/tools/fakeoauth.c
	@mkdir -p $(B)
	$(CC) $(WARN) $(DEFS) $(CFLAGS) -o $@ $< $(shell pkg-config --libs openssl)

# ---- tests -----------------------------------------------------------------
check: deps
	@$(MAKE) --no-print-directory all unit unit-asan fuzz-regress spec integration package
	@echo "make check: all suites passed"

unit: $(UNIT_BIN)
	@tests/run-units $(UNIT_BIN)
unit-asan: $(ASAN_UNIT_BIN)
	@ASAN_OPTIONS=detect_leaks=1 tests/run-units $(ASAN_UNIT_BIN)

spec: all
	@tests/run-specs tests/spec

integration: all $(ITEST_BIN) $(TOOLS) $(B)/seedmail
	@tests/run-integration

# ---- fuzzing and benchmarks -----------------------------------------------
FUZZ_SECONDS ?= 60
FUZZ_SRC := src/parser.c src/decode.c src/arena.c
$(B)/fuzz/fuzz_parser: tests/fuzz/fuzz_parser.c $(FUZZ_SRC) $(wildcard src/*.h)
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_SRC)
fuzz: $(B)/fuzz/fuzz_parser
	@mkdir -p $(B)/fuzz/corpus
	$(B)/fuzz/fuzz_parser -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(B)/fuzz/ \
	    $(B)/fuzz/corpus tests/fuzz/corpus
# Replays the seed corpus and every crash kept as a regression through the fuzz target.
fuzz-regress:
	@if command -v $(FUZZ_CC) >/dev/null; then \
	    $(MAKE) --no-print-directory $(B)/fuzz/fuzz_parser && \
	    $(B)/fuzz/fuzz_parser -runs=0 tests/fuzz/corpus tests/fuzz/regress 2>&1 | tail -1; \
	else echo "fuzz-regress: $(FUZZ_CC) not found, skipped"; fi

$(B)/bench/bench_parser: tests/bench/bench_parser.c $(B)/libcore.a
	@mkdir -p $(B)/bench
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< $(B)/libcore.a $(PKG_LIBS) -lm
bench-parser: $(B)/bench/bench_parser
	$(B)/bench/bench_parser

# ---- the demo --------------------------------------------------------------
demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

# ---- install ---------------------------------------------------------------
# The Lua modules and their C core alone (what the rockspec installs).
module: $(B)/lua/imapscript/core.so
install-module: module
	install -d $(DESTDIR)$(LUADIR)/imapscript $(DESTDIR)$(LUACDIR)/imapscript
	install -m 755 $(B)/lua/imapscript/core.so $(DESTDIR)$(LUACDIR)/imapscript/core.so
	cd lua && find imapscript -name '*.lua' -exec install -D -m 644 {} $(DESTDIR)$(LUADIR)/{} \;

install: all install-module
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(B)/imapscript $(DESTDIR)$(BINDIR)/imapscript
	scripts/md2man imapscript 1 < docs/imapscript.md > $(DESTDIR)$(MANDIR)/man1/imapscript.1
	scripts/md2man imapscript-api 5 < docs/api.md > $(DESTDIR)$(MANDIR)/man5/imapscript-api.5
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	for u in scripts/systemd/*; do \
	    sed 's|@BINDIR@|$(BINDIR)|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/} && \
	    chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 examples/*.lua $(DESTDIR)$(DOCDIR)/examples/

# ---- packages --------------------------------------------------------------
# The Debian package, built from a copy of the tree in $(B)/deb (dpkg-buildpackage writes
# beside the source directory): $(B)/deb/imapscript_$(VERSION)_*.deb.
deb:
	rm -rf $(B)/deb && mkdir -p $(B)/deb/imapscript-$(VERSION)
	tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C $(B)/deb/imapscript-$(VERSION)
	# A clean environment: our make variables (B=...) must not reach the package's own build.
	cd $(B)/deb/imapscript-$(VERSION) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b
# Builds, lints and installs the Debian package, and installs the rock with luarocks.
package:
	@tests/package_check.sh

clean:
	rm -rf $(B)
