# dumbtorch's entry points. `make demo` and `make test` install what is missing first.
PYTHON ?= python3
BUILD  ?= build
JOBS   ?= $(shell nproc)

.PHONY: setup build demo test test-cpp test-python bench clean fuzz fuzz-long test-asan

setup:
	@bash tools/setup.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython3_EXECUTABLE=$$(command -v $(PYTHON))

# Builds the libraries, tools, tests and the extension (dropped into python/dumbtorch), then
# makes `import dumbtorch` work from any directory (an editable install through a .pth file).
build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)
	@$(PYTHON) tools/install_pth.py

demo: setup build
	$(PYTHON) examples/fashion_mnist.py

# Compiled objects go to a cache dir of this build, emptied first (hermetic: never ~/.cache).
test: export DT_CACHE_DIR = $(CURDIR)/$(BUILD)/test-cache
test: setup build
	rm -rf $(BUILD)/test-cache
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	PYTHONPATH=$(CURDIR)/python $(PYTHON) -m pytest -q tests/python

bench: setup build
	@$(PYTHON) bench/run.py

# --- reliability (docs/reliability.md) -------------------------------------------------------
# `make fuzz`: each fuzz target for FUZZ_SECONDS: the IR parser under libFuzzer (clang, ASan,
# UBSan; corpus seeded from tests/ir, kept in $(FUZZ_DIR)/corpus-ir) and the checkpoint loader
# (pure Python: a mutational loop, tests/fuzz/fuzz_checkpoint.py). A crash leaves its input in
# $(FUZZ_DIR)/artifacts or $(FUZZ_DIR)/checkpoint and fails the target.
FUZZ_DIR     ?= build-fuzz/fuzz
FUZZ_CXX     ?= clang++-19
FUZZ_SECONDS ?= 60
FUZZ_FLAGS    = -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -I$(CURDIR)
FUZZ_IR_OBJS  = $(patsubst ir/%.cpp,$(FUZZ_DIR)/ir/%.o,$(wildcard ir/*.cpp))

$(FUZZ_DIR)/ir/%.o: ir/%.cpp $(wildcard ir/*.h ir/*.def)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/fuzz_ir_parse: tests/fuzz/fuzz_ir_parse.cpp $(FUZZ_IR_OBJS)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@

fuzz: build
	@bash tools/setup.sh fuzz
	$(MAKE) --no-print-directory $(FUZZ_DIR)/fuzz_ir_parse
	@mkdir -p $(FUZZ_DIR)/corpus-ir $(FUZZ_DIR)/artifacts
	@find tests/ir -name '*.ir' -exec cp -n {} $(FUZZ_DIR)/corpus-ir/ \;
	$(FUZZ_DIR)/fuzz_ir_parse -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -dict=tests/fuzz/ir.dict \
	    -artifact_prefix=$(FUZZ_DIR)/artifacts/ $(FUZZ_DIR)/corpus-ir > $(FUZZ_DIR)/fuzz_ir_parse.log 2>&1 \
	    || { tail -n 60 $(FUZZ_DIR)/fuzz_ir_parse.log; exit 1; }
	@grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' $(FUZZ_DIR)/fuzz_ir_parse.log
	PYTHONPATH=$(CURDIR)/python $(PYTHON) tests/fuzz/fuzz_checkpoint.py --seconds $(FUZZ_SECONDS) \
	    --corpus tests/fuzz/corpus/checkpoint --out $(FUZZ_DIR)/checkpoint

# `make fuzz-long`: the differential test over DT_DIFF_COUNT random graphs from a new start seed
# (printed; any failure prints the seed that reproduces it), then both fuzzers for
# FUZZ_LONG_SECONDS each.
DT_DIFF_COUNT     ?= 50000
FUZZ_LONG_SECONDS ?= 600
fuzz-long: build
	cd $(BUILD) && DT_DIFF_START=$${DT_DIFF_START:-$$(date +%s)} DT_DIFF_COUNT=$(DT_DIFF_COUNT) \
	    ./dt_tests --gtest_filter='Differential.*'
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_LONG_SECONDS)

# `make test-asan`: a separate build with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DDT_SANITIZE=ON) running the C++ tests (LeakSanitizer on, ASAN_DIFF_COUNT differential
# graphs), then in Python, with the ASan runtime the sanitized _C links preloaded, the XOR example
# (a compiled training step) and tests/asan_loop.py (an MLP trained eager and compiled side by side,
# ASAN_STEPS steps per optimizer). Leak checks are off in Python (CPython's own never-freed
# allocations drown them; the C++ leak tests cover the framework). The import check makes sure the
# sanitized _C is the one loaded (the examples fall back to python/ when an import fails). Kernels
# are cached in a fresh directory of this build (hermetic, and the compile path runs under ASan).
# -O1 with line tables only (ASAN_OPT_FLAGS): ASan's advice, and half the build time of -O2 -g.
ASAN_BUILD      ?= build-asan
ASAN_DIFF_COUNT ?= 300
ASAN_STEPS      ?= 60
ASAN_OPT_FLAGS  ?= -O1 -g1 -DNDEBUG
ASAN_UBSAN_OPTIONS = print_stacktrace=1:halt_on_error=1
ASAN_PYTHON = LD_PRELOAD=$$(ldd $(CURDIR)/$(ASAN_BUILD)/py/dumbtorch/_C*.so | awk '/libasan/ {print $$3}') \
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=$(ASAN_UBSAN_OPTIONS) PYTHONMALLOC=malloc \
    PYTHONPATH=$(CURDIR)/$(ASAN_BUILD)/py $(PYTHON)
test-asan: export DT_CACHE_DIR = $(CURDIR)/$(ASAN_BUILD)/test-cache
test-asan: setup
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDT_SANITIZE=ON \
	    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$(ASAN_OPT_FLAGS)" -DPython3_EXECUTABLE=$$(command -v $(PYTHON))
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target dt_tests _C
	rm -rf $(ASAN_BUILD)/test-cache
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=$(ASAN_UBSAN_OPTIONS) \
	    DT_DIFF_COUNT=$(ASAN_DIFF_COUNT) ./dt_tests
	rm -rf $(ASAN_BUILD)/py && mkdir -p $(ASAN_BUILD)/py && cp -r python/dumbtorch $(ASAN_BUILD)/py/
	rm -f $(ASAN_BUILD)/py/dumbtorch/_C*.so && cp $(ASAN_BUILD)/_C*.so $(ASAN_BUILD)/py/dumbtorch/
	cd $(ASAN_BUILD) && $(ASAN_PYTHON) -c 'import sys, dumbtorch._C as c; \
	    sys.exit(None if c.__file__.startswith("$(CURDIR)/$(ASAN_BUILD)/py/") else "not the sanitized _C: " + c.__file__)'
	cd $(ASAN_BUILD) && $(ASAN_PYTHON) $(CURDIR)/examples/xor.py
	cd $(ASAN_BUILD) && $(ASAN_PYTHON) $(CURDIR)/tests/asan_loop.py --steps $(ASAN_STEPS)

clean:
	rm -rf $(BUILD)
