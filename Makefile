# blindpad: GNU Make + pkg-config.
#
#   make                  build/blindpad-server (and the unit tests' objects)
#   make run              install missing Debian packages, build, start on 127.0.0.1:3000 with ./data
#   make test             the whole suite: unit + integration, then again under ASan+UBSan
#   make SANITIZER=address|undefined   build into build/<sanitizer>/ with that sanitizer
#   make fuzz             build the libFuzzer targets (clang) and run each for FUZZ_SECONDS
#   make clean
#
# Sources are found by wildcard: every src/<dir>/*.c except src/server/main.c goes
# into build/libblindpad-server.a, so adding a module needs no Makefile change.

CC        ?= cc
SANITIZER ?=
BUILD     ?= build$(if $(SANITIZER),/$(SANITIZER))
OPT       ?= -O2

PKGS      := libuv jansson libsodium nettle inih libssl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lwslay -lhttp_parser -lpthread

CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter -fno-omit-frame-pointer -Iinclude -Isrc $(PKG_CFLAGS)
LDFLAGS ?=

ifeq ($(SANITIZER),address)
  CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SANITIZER),undefined)
  CFLAGS  += -fsanitize=undefined -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=undefined
else ifneq ($(SANITIZER),)
  $(error SANITIZER must be address or undefined)
endif

LIB_SRC  := $(filter-out src/server/main.c,$(wildcard src/common/*.c src/protocol/*.c src/storage/*.c src/server/*.c))
# libblindpad (the client library): src/common, src/protocol and src/client, static and shared
# (position-independent objects in $(BUILD)/pic); the CLI (src/cli) links the static one.
CORE_SRC   := $(wildcard src/common/*.c src/protocol/*.c)
CLIENT_SRC := $(wildcard src/client/*.c)
CLIENT_A   := $(BUILD)/libblindpad.a
CLIENT_SO  := $(BUILD)/libblindpad.so
CLIENT_PC  := $(BUILD)/blindpad.pc
CLIENT_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o) $(CLIENT_SRC:%.c=$(BUILD)/obj/%.o)
CLIENT_PIC := $(CORE_SRC:%.c=$(BUILD)/pic/%.o) $(CLIENT_SRC:%.c=$(BUILD)/pic/%.o)
CLI_SRC    := $(wildcard src/cli/*.c)
CLI        := $(if $(CLI_SRC),$(BUILD)/blindpad)
PREFIX     ?= /usr/local
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libblindpad-server.a
SERVER   := $(BUILD)/blindpad-server
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60

.PHONY: all run test unit clean fuzz deps test-deps install
all: $(SERVER) $(CLIENT_A) $(CLIENT_SO) $(CLIENT_PC) $(CLI) $(UNIT_BIN)

deps:
	@bash scripts/deps.sh
test-deps:
	@bash scripts/deps.sh --test

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SERVER): $(BUILD)/obj/src/server/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(CLIENT_A): $(CLIENT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CLIENT_SO): $(CLIENT_PIC)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libblindpad.so.0 -o $@ $^ $(PKG_LIBS) -lm

$(CLIENT_PC): blindpad.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's#@PREFIX@#$(PREFIX)#g' -e 's#@REQUIRES@#$(PKGS)#g' $< > $@

$(BUILD)/blindpad: $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(CLIENT_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# Unit tests link both libraries (the server's first: shared modules come from it).
$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(LIB) $(CLIENT_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB) $(CLIENT_A) $(LDFLAGS) $(PKG_LIBS) -lcmocka -lm

install: $(CLIENT_A) $(CLIENT_SO) $(CLIENT_PC) $(CLI) $(SERVER)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/blindpad $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/blindpad/*.h $(DESTDIR)$(PREFIX)/include/blindpad/
	install -m 644 $(CLIENT_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(CLIENT_SO) $(DESTDIR)$(PREFIX)/lib/libblindpad.so.0
	ln -sf libblindpad.so.0 $(DESTDIR)$(PREFIX)/lib/libblindpad.so
	install -m 644 $(CLIENT_PC) $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 755 $(SERVER) $(CLI) $(DESTDIR)$(PREFIX)/bin/

run: deps $(SERVER)
	$(SERVER) --listen 127.0.0.1:3000 --data ./data

unit: $(SERVER) $(UNIT_BIN)
	@bash tests/run.sh --unit-only --build $(BUILD)

test: test-deps
	@bash tests/run.sh

# libFuzzer targets: clang only, always with ASan+UBSan. The server and client sources are
# compiled once into build/fuzzobj (instrumented, -fsanitize=fuzzer-no-link) and every target
# links them; the dispatcher target brings its own fake transport instead of net.c.
FUZZ_SAN    := -fsanitize=address,undefined
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -Iinclude -Isrc $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_OBJ    := $(patsubst %.c,build/fuzzobj/%.o,$(LIB_SRC) $(CLIENT_SRC))
build/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
build/fuzz/%: fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS) -lm
build/fuzz/fuzz_netflux: fuzz/fuzz_netflux.c $(FUZZ_OBJ)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(filter-out build/fuzzobj/src/server/net.o,$(FUZZ_OBJ)) $(PKG_LIBS) -lm
-include $(FUZZ_OBJ:.o=.d)

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 build/fuzz/corpus-$$n fuzz/corpus/$$n || exit 1; done

# bench/loadgen: a Netflux load generator (libuv + wslay client; see bench/README.md).
# `make loadgen` builds build/loadgen from bench/*.c plus the common modules it reuses;
# `make bench` runs every scenario briefly against a fresh blindpad-server (bench/run-short.sh).
LOADGEN     := $(BUILD)/loadgen
LOADGEN_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard bench/*.c) src/common/buf.c src/common/jsonw.c src/common/xmalloc.c)
.PHONY: loadgen bench kfloor
loadgen: $(LOADGEN)
# bench/kfloor: the kernel's floor for S1, and sfloor: the floor for S4 (signed
# writes) (bench/README.md, docs/PERFORMANCE.md).
kfloor: $(BUILD)/kfloor $(BUILD)/sfloor
$(BUILD)/kfloor: bench/kfloor/kfloor.c bench/kfloor/floor.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -o $@ $<
$(BUILD)/sfloor: bench/kfloor/sfloor.c bench/kfloor/floor.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(PKG_LIBS)
$(LOADGEN): $(LOADGEN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
# build/filecrypt: libblindpad's file encryption against raw secretbox (docs/PERFORMANCE.md).
.PHONY: filecrypt
filecrypt: $(BUILD)/filecrypt
$(BUILD)/filecrypt: bench/filecrypt/filecrypt.c $(CLIENT_A)
	$(CC) $(CFLAGS) -o $@ $< $(CLIENT_A) $(LDFLAGS) $(PKG_LIBS) -lm
bench: $(SERVER) $(LOADGEN)
	@bash bench/run-short.sh --build $(BUILD)
-include $(LOADGEN_OBJ:.o=.d)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/src/server/main.d $(CLIENT_OBJ:.o=.d) $(CLIENT_PIC:.o=.d) $(CLI_SRC:%.c=$(BUILD)/obj/%.d)
