# Glassbox — the two commands (`make reproduce`, `make test`) do all the set-up themselves.
SWIFT      ?= swift
# Release builds with @testable kept, so model-level tests run at full speed.
# On x86-64 CPUs with AVX2+FMA the kernels are compiled for them (haswell).
CPU_FLAGS  := $(shell grep -q -w avx2 /proc/cpuinfo 2>/dev/null && grep -q -w fma /proc/cpuinfo 2>/dev/null && echo "-Xswiftc -target-cpu -Xswiftc haswell")
BUILD_FLAGS := -c release -Xswiftc -enable-testing $(CPU_FLAGS)
SYSTEM_PACKAGES := libopenblas-dev libcurl4-openssl-dev libxml2-dev
GLASSBOX   := .build/release/glassbox

.PHONY: all setup deps models build test reproduce check bench docs clean

all: build

## Install the Debian packages that are missing (apt-get update only when something is).
deps:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "glassbox: installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	    || { echo "glassbox: could not install$$missing" >&2; exit 1; }; \
	fi

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

## Fetch the reference models into the cache ($$GLASSBOX_CACHE, default ~/.cache/glassbox).
models: build
	@if $(GLASSBOX) --help | grep -qE '^ +models( |$$)'; then $(GLASSBOX) models fetch --all; \
	else echo "glassbox: no model registry in this build; skipping the model fetch"; fi

setup: deps models

test: setup
	$(SWIFT) build $(BUILD_FLAGS) --build-tests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build
	$(GLASSBOX) papers validate
	$(GLASSBOX) check --tier fast

reproduce: setup
	@if $(GLASSBOX) --help | grep -qE '^ +reproduce( |$$)'; then $(GLASSBOX) reproduce --tier fast; \
	else echo "glassbox: no reproduction runner yet"; fi
	@if $(GLASSBOX) --help | grep -qE '^ +tour( |$$)' && [ -d docs/tour ]; then $(GLASSBOX) tour; \
	else echo "glassbox: no tour generator or docs/tour/; skipping the tour"; fi
	@if $(GLASSBOX) papers --help 2>/dev/null | grep -qE '^ +index( |$$)'; then $(GLASSBOX) papers index; \
	else echo "glassbox: no papers index command; skipping papers/README.md"; fi

bench: deps
	$(SWIFT) build $(BUILD_FLAGS) --product GlassboxBench
	.build/release/GlassboxBench

clean:
	rm -rf .build
