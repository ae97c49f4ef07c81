# cairn — plain GNU make. Output goes to $(BUILD) (default build/), never into the source tree.
#
#   make            build build/cairnd and build/cairn
#   make run        install missing build deps (as root), build, start cairnd on its defaults
#   make test       install deps, build, run unit tests, unit tests under ASan+UBSan, the fuzz
#                   corpora once (fuzz-regress), end-to-end
#   make bench      benchmarks (see bench/README.md)
#   make fuzz       run each libFuzzer target FUZZ_SECONDS (default 60) on a copy of its corpus
#
# Project flags live in CAIRN_* variables so that `make CFLAGS=...` adds rather than clobbers.

BUILD ?= build
SANITIZE ?= 0
CC ?= cc

PKGS := libmicrohttpd lmdb libzstd libxxhash libcrypto expat inih libisal
DEB_BUILD_DEPS := build-essential pkg-config libmicrohttpd-dev liblmdb-dev libzstd-dev \
	libxxhash-dev libssl-dev libcmocka-dev libexpat1-dev libinih-dev libisal-dev \
	clang libclang-rt-14-dev

WARN := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wvla -Wimplicit-fallthrough
CAIRN_CPPFLAGS = -Iinclude -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS))
# No -DNDEBUG, on purpose: the few assert()s guard the store's invariants (every pack record is
# re-verified before it is appended, ~0.06 CPU-s per GB of new data); a broken invariant must stop
# the process before it reaches the disk.
CAIRN_CFLAGS = $(WARN) -O2 -g -pthread -fno-strict-aliasing -MMD -MP
CAIRN_LDLIBS = $(shell pkg-config --libs $(PKGS)) -pthread -lm
ifeq ($(SANITIZE),1)
CAIRN_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CAIRN_LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC := $(sort $(wildcard src/core/*.c src/store/*.c src/s3/*.c src/http/*.c src/repl/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIBCAIRN := $(BUILD)/libcairn.a

.PHONY: all deps run test check unit unit-asan it bench fuzz format tidy clean
# Keep test and bench objects between runs (they are intermediates of pattern rules).
.SECONDARY:
all: $(BUILD)/cairnd $(BUILD)/cairn

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CAIRN_CPPFLAGS) $(CPPFLAGS) $(CAIRN_CFLAGS) $(CFLAGS) -c $< -o $@

$(LIBCAIRN): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/cairnd: $(BUILD)/obj/src/cairnd.o $(LIBCAIRN)
	$(CC) $(CAIRN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(CAIRN_LDLIBS) $(LDLIBS)

$(BUILD)/cairn: $(CLI_OBJ) $(LIBCAIRN)
	$(CC) $(CAIRN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(CAIRN_LDLIBS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBCAIRN)
	@mkdir -p $(dir $@)
	$(CC) $(CAIRN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(CAIRN_LDLIBS) -lcmocka $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBCAIRN)
	@mkdir -p $(dir $@)
	$(CC) $(CAIRN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(CAIRN_LDLIBS) $(LDLIBS)

# The S3 load generator is a libcurl client (libcurl4-openssl-dev, installed by `make bench`).
$(BUILD)/bench/loadgen: CAIRN_LDLIBS += $(shell pkg-config --libs libcurl)

# Installs the Debian build dependencies that are missing (only when root; otherwise it says
# which are missing and stops).
deps:
	@missing=""; for p in $(DEB_BUILD_DEPS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "missing build dependencies:$$missing (run as root or apt-get install them)"; exit 1; \
		fi; \
	fi

run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/cairnd

test: deps
	@$(MAKE) --no-print-directory check

check: unit unit-asan fuzz-regress it

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

unit-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 unit

it: all
	@tests/it/run.sh $(BUILD)

bench: DEB_BUILD_DEPS += libcurl4-openssl-dev
bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@bench/run.sh $(BUILD)

# Fuzzing (clang + libFuzzer): the parsers that see client bytes, linked with the same sanitizers.
#   make fuzz           run each target FUZZ_SECONDS on a copy of its corpus under $(FUZZ_BUILD)
#   make fuzz-regress   run each target once over its checked-in corpus (part of make check)
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# core and the pure S3 modules (not the request handlers, which reach into store and http)
FUZZ_LIB_SRC := $(sort $(wildcard src/core/*.c) $(filter-out src/s3/ops_% src/s3/auth.c \
	src/s3/payload.c src/s3/server.c, $(wildcard src/s3/*.c)))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CAIRN_CPPFLAGS) $(CPPFLAGS) $(CAIRN_CFLAGS) -O1 $(FUZZ_SAN) \
		-fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libcairn-fuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/libcairn-fuzz.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(CAIRN_LDLIBS)

.PHONY: fuzz-regress
fuzz: $(FUZZ_BIN)
	@tests/fuzz/run-corpus.sh -t $(FUZZ_SECONDS) -w $(FUZZ_BUILD)/work $(FUZZ_BIN)

fuzz-regress: $(FUZZ_BIN)
	@tests/fuzz/run-corpus.sh $(FUZZ_BIN)

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

tidy:
	clang-tidy $$(git ls-files 'src/*.c') -- $(CAIRN_CPPFLAGS)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
