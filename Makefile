# The front door.  Meson + Ninja do the building (docs/build.md says why);
# this file only names the jobs.  Every job installs missing packages first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz

.PHONY: all deps build demo check bench soak fuzz asan clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD) >/dev/null || ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

asan: deps $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD) >/dev/null || ninja -C $(ASAN_BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_lundef=false >/dev/null

fuzz: deps $(FUZZ_BUILD)/build.ninja
	@ninja -C $(FUZZ_BUILD) >/dev/null || ninja -C $(FUZZ_BUILD)

demo: build
	@bash scripts/demo.sh

check: deps
	@bash scripts/check.sh

bench: build
	@bash perf/run.sh

soak: build
	@bash scripts/soak.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
