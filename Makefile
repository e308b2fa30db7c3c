# The two commands of the quick start: `make demo` and `make test`. Both set up .venv on first use.
# Deploying to AWS (docs/deploy-to-aws.md): `make cdk-bootstrap`, `make cdk-diff`, `make deploy`, with the CDK CLI
# pinned in package.json (installed into node_modules on first use; nothing else here needs Node.js packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CDK := node_modules/.bin/cdk
NODE_STAMP := node_modules/.package-lock.json
CDK_ARGS ?=
# CDK's jsii runtime warns on every synth that this Node.js is deprecated or end of life (the latter
# variable lists the major versions to keep quiet about).
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20,22

.PHONY: .venv demo test lint serve synth cdk-synth cdk-diff cdk-bootstrap deploy clean

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
	$(BIN)/pytest -n 4  # two workers per core: many emulator tests wait in real time (Wait states, traffic)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache  # the layering contracts in pyproject.toml

serve: $(STAMP)
	$(BIN)/lambda-deployer local serve

synth: $(STAMP)
	$(BIN)/python app.py

# npm ci installs exactly package-lock.json (and writes $(NODE_STAMP)); `npx aws-cdk@latest` could be a CLI
# that refuses this app's cloud assembly.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

cdk-synth: $(STAMP) $(NODE_STAMP)
	$(CDK) synth $(CDK_ARGS)

cdk-diff: $(STAMP) $(NODE_STAMP)
	$(CDK) diff $(CDK_ARGS)

cdk-bootstrap: $(NODE_STAMP)
	$(CDK) bootstrap $(CDK_ARGS)

deploy: $(STAMP) $(NODE_STAMP)
	$(CDK) deploy $(CDK_ARGS)

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .ruff_cache .hypothesis
