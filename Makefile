# The two commands of the quick start: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# CDK's jsii runtime warns on every synth that this Node.js is deprecated or end of life (the latter
# variable lists the major versions to keep quiet about).
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20,22

.PHONY: .venv demo test lint serve synth clean

.venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# -qq: errors still show; the warnings this machine's pip configuration prints on every run do not
	$(BIN)/python -m pip install --quiet --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --quiet --disable-pip-version-check --no-deps -e .
	touch $@

demo: $(STAMP)
	$(BIN)/lambda-deployer local demo

test: $(STAMP) lint
	$(BIN)/pytest -n auto  # one worker per core: the emulator's runs are CPU-bound

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache  # the layering contracts in pyproject.toml

serve: $(STAMP)
	$(BIN)/lambda-deployer local serve

synth: $(STAMP)
	$(BIN)/python app.py

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .ruff_cache .hypothesis
