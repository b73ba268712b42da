# Thin wrapper over CMake + ctest (STYLE.md §10).
JOBS ?= $(shell nproc)
CTEST = ctest --output-on-failure -j$(JOBS)

.PHONY: all test asan ref check fuzz bench deps up clean

all:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j$(JOBS)

test: all
	cd build && $(CTEST)

# ASan+UBSan over the same suite.
asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRX_SANITIZE=ON >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && $(CTEST)

# The same suite with the plain-C kernels only.
ref:
	cmake -S . -B build-ref -DCMAKE_BUILD_TYPE=Release -DRX_FORCE_REF=ON >/dev/null
	cmake --build build-ref -j$(JOBS)
	cd build-ref && $(CTEST)

# What CI runs: plain, sanitized, and reference-kernel suites.
check: test asan ref

# libFuzzer targets (clang, ASan+UBSan). Parsers only: the plain-C kernels suffice, and clang 14
# rejects the AVX2 selector's __builtin_cpu_supports("f16c").
fuzz:
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRX_SANITIZE=ON -DRX_FUZZ=ON -DRX_FORCE_REF=ON -DRX_TESTS=OFF >/dev/null
	cmake --build build-fuzz -j$(JOBS)

deps:
	bash scripts/install-deps

# The README's first command: install, build, and run the embedded default on stories260K: a node
# (reflex serve) and a gateway (reflex gateway) on 127.0.0.1, the gateway on port 8080. Ctrl-C
# stops both.
MODEL ?= ../shared/models/stories260K.gguf
PORT ?= 8080
up: deps all
	./build/reflex up -m $(MODEL) --port $(PORT)

# Side-by-side speed against llama.cpp: make bench LLAMA_CPP=/path/to/llama.cpp/build
bench: all
	bash bench/engine-vs-llamacpp.sh $(LLAMA_CPP)

clean:
	rm -rf build build-asan build-ref build-fuzz
