# The README's two commands: `make demo` and `make test`. Both create .venv
# with the Python found on PATH when it is missing and install the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT := out
STEWARD_DEMO = env -u STEWARD_HOME -u STEWARD_DATABASE_URL -u STEWARD_KEYSTORE_URL \
	-u STEWARD_SECRET_KEY $(BIN)/steward --home $(OUT)/demo-home

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
	@head -n 12 $(OUT)/korte-notice.md
	@echo
	@echo "== the engine on the embedded default (SQLite in $(OUT)/demo-home): consent you can prove"
	@rm -rf $(OUT)/demo-home
	@$(STEWARD_DEMO) init
	@$(STEWARD_DEMO) policy apply examples/shop/policy.yaml
	@$(STEWARD_DEMO) consent give --subject email:Ana.Berzina@example.com --purpose newsletter --channel form --ip 203.0.113.77
	@$(STEWARD_DEMO) consent check --subject email:ana.berzina@example.com --purpose newsletter
	@$(STEWARD_DEMO) consent withdraw --subject email:ana.berzina@example.com --purpose newsletter --channel email
	@$(STEWARD_DEMO) consent check --subject email:ana.berzina@example.com --purpose newsletter
	@$(STEWARD_DEMO) consent check --subject email:ana.berzina@example.com --purpose orders
	@$(STEWARD_DEMO) audit verify

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
