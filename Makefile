# prompteur: `make demo` sets up and runs the quickstart; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The embedded model's llama.cpp build: portable (runs on any x86-64 with AVX2) or native
# (this machine only). `make install LLAMA_BUILD=native` switches.
LLAMA_BUILD ?= portable
STAMP := $(VENV)/.installed-dev-$(LLAMA_BUILD)

.PHONY: install demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml scripts/install-llama-cpp.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@rm -f $(VENV)/.installed-dev-*
	@bash scripts/install-llama-cpp.sh $(BIN)/python $(LLAMA_BUILD)
	@echo "installing prompteur and its dependencies"
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# bytecode, as a regular install has it (editable installs leave it to the first import)
	$(BIN)/python -m compileall -q src/prompteur
	@touch $(STAMP)

install: $(STAMP)

# A real evaluation on the embedded model. Exit code 1 only means some cases failed,
# which is the point of the comparison; 2 (bad input) still fails the target.
demo: $(STAMP)
	@cd examples/quickstart && ../../$(BIN)/prompteur eval -o results.json; \
	  code=$$?; test $$code -le 1

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
