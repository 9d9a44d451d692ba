# The README's two commands: `make demo` and `make test`. Both create .venv
# with the Python found on PATH when it is missing and install the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT := out

.PHONY: demo test check lint typecheck bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	@mkdir -p $(OUT)
	@echo "== steward lint examples/korte/policy.yaml (exit 1 = the seed's genuine problems found)"
	@$(BIN)/steward lint examples/korte/policy.yaml; status=$$?; test $$status -le 1
	@$(BIN)/steward notice examples/korte/policy.yaml --format markdown --output $(OUT)/korte-notice.md
	@$(BIN)/steward notice examples/korte/policy.yaml --format html --output $(OUT)/korte-notice.html
	@$(BIN)/steward ropa examples/korte/policy.yaml --format csv --output $(OUT)/korte-ropa.csv
	@$(BIN)/steward ropa examples/korte/policy.yaml --format html --output $(OUT)/korte-ropa.html
	@echo "== notice and record of processing written:"
	@ls -1 $(OUT)/korte-*
	@echo "== first lines of the notice:"
	@head -n 20 $(OUT)/korte-notice.md

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_policy_load_lint.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
