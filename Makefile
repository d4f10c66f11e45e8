# dumbtorch's entry points. `make demo` and `make test` install what is missing first.
PYTHON ?= python3
BUILD  ?= build
JOBS   ?= $(shell nproc)

.PHONY: setup build demo test test-cpp test-python bench clean

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

test: setup build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	PYTHONPATH=$(CURDIR)/python $(PYTHON) -m pytest -q tests/python

bench: setup build
	@$(PYTHON) bench/run.py

clean:
	rm -rf $(BUILD)
