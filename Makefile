# Two entry points for a fresh machine; each installs what it needs first.
#   make serve   run the MCP server (streamable HTTP on 127.0.0.1:8000; the sandbox when no credentials are set)
#   make test    lint, type-check, check generated files, and run the default test tier (see README, "Testing")
#   make test-all  the same with every tier: default, slow and clients (what CI runs)
#   make client-matrix  Claude Code's CLI against the server (installed on demand into build/claude-code)
#   make bench   the benchmarks (bench/README.md), written to bench/results/latest.md
#   make bundle  the MCP Bundle for Claude Desktop: dist/telco-mcp.mcpb (validated and packed with the pinned mcpb)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TRANSPORT ?= http
PORT ?= 8000
# pytest-xdist workers for the tiers: most of a test's time is spent waiting on a server, a browser or Redis, so
# four workers pay even on two cores (docs/testing.md has the figures). `make test WORKERS=0` runs in one process.
WORKERS ?= 4
XDIST := $(if $(filter 0,$(WORKERS)),-p no:xdist,-n $(WORKERS) --dist loadgroup)

# `make serve TRANSPORT=stdio` is a stdio MCP server: its stdout carries only JSON-RPC. So no
# command is echoed and the install steps write to stderr. (From another directory, make's own
# "Entering directory" lines need `--no-print-directory`: `make --no-print-directory -C DIR serve`.)

.PHONY: serve test test-all client-matrix lint node browser replicas bench bundle clean

$(BIN)/.installed: pyproject.toml
	@echo "installing telco-mcp and its test tools into $(VENV)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2
	@$(BIN)/python -m pip install --quiet -e '.[test]' >&2
	@touch $@

serve: $(BIN)/.installed
	@$(BIN)/telco-mcp serve --transport $(TRANSPORT) --port $(PORT)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright
	$(BIN)/telco-mcp manifest --check

# Node tools for the real-client tests (MCP Inspector, conformance suite, TypeScript SDKs, mcpb, Node 22,
# axe-core), from the npm registry, exactly as tools/node/package-lock.json pins them.
node: tools/node/node_modules/.installed

tools/node/node_modules/.installed: tools/node/package.json tools/node/package-lock.json
	@command -v npm >/dev/null || { echo "npm is required for the real-client tests (apt-get install npm)"; exit 1; }
	npm ci --prefix tools/node --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the approval-page test: installed with apt-get where we are root (CI),
# otherwise the test says how to install it (and fails instead of skipping under CI=true).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the approval-page test" >&2; \
	    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2; \
	  else echo "the approval-page test needs Debian's chromium: sudo apt-get install chromium" >&2; fi; }

# The MCP Bundle (server type `uv`): the generated bundle/manifest.json, the icon, pyproject.toml, the
# package source and a uv.lock resolved now; Claude Desktop's uv installs exactly those versions
# (`uv run --frozen`) on the user's machine at first start.
BUNDLE ?= dist/telco-mcp.mcpb
BUNDLE_STAGE ?= build/bundle
MCPB := tools/node/node_modules/.bin/mcpb

bundle: $(BIN)/.installed node
	$(BIN)/telco-mcp manifest --check
	rm -rf $(BUNDLE_STAGE)
	mkdir -p $(BUNDLE_STAGE) $(dir $(BUNDLE))
	cp bundle/manifest.json bundle/icon.png bundle/.mcpbignore pyproject.toml README.md LICENSE $(BUNDLE_STAGE)/
	cp -R telco_mcp $(BUNDLE_STAGE)/telco_mcp
	$(BIN)/uv lock --quiet --directory $(BUNDLE_STAGE)
	$(MCPB) validate $(BUNDLE_STAGE)/manifest.json
	$(MCPB) pack $(BUNDLE_STAGE) $(BUNDLE)

# Debian's redis-server and haproxy for the shared-state and replica tests (TELCO_MCP_STATE_URL): installed
# with apt-get where we are root (CI); otherwise the tests say how to install them (and fail under CI=true).
replicas:
	@{ command -v redis-server && command -v haproxy; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's redis-server and haproxy for the replica tests" >&2; \
	    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server haproxy >&2; \
	  else echo "the replica tests need Debian's redis-server and haproxy: sudo apt-get install redis-server haproxy" >&2; fi; }

# The test tiers (markers in pyproject.toml): the default tier is the unit and in-process tests plus one
# end-to-end test per real component; `slow` and `clients` join it in test-all.
test: lint node browser replicas
	@echo "make test: the default tier (unit, in-process, one end-to-end test per real component);" \
	  "\`make test-all\` adds the slow and clients tiers, \`make client-matrix\` runs Claude Code's CLI"
	$(BIN)/python -m pytest -q $(XDIST)

test-all: lint node browser replicas
	@echo "make test-all: every tier: default, slow and clients (-m 'not client_matrix');" \
	  "Claude Code's CLI runs under \`make client-matrix\`"
	$(BIN)/python -m pytest -q $(XDIST) -m "not client_matrix"

# Claude Code's CLI (384 MB) is installed here on demand, not with the other Node tools; the test runs
# `claude mcp add` with the README's lines, then `claude mcp get`, which connects to the server.
CLAUDE_CODE_VERSION := 2.1.332
CLAUDE_CODE_DIR := build/claude-code
CLAUDE_CODE := $(CLAUDE_CODE_DIR)/node_modules/.bin/claude

$(CLAUDE_CODE_DIR)/.installed-$(CLAUDE_CODE_VERSION):
	@command -v npm >/dev/null || { echo "npm is required for Claude Code's CLI (apt-get install npm)"; exit 1; }
	mkdir -p $(CLAUDE_CODE_DIR)
	npm install --prefix $(CLAUDE_CODE_DIR) --no-audit --no-fund --loglevel=error \
	  @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	touch $@

client-matrix: $(BIN)/.installed node $(CLAUDE_CODE_DIR)/.installed-$(CLAUDE_CODE_VERSION)
	@echo "make client-matrix: Claude Code's CLI $(CLAUDE_CODE_VERSION): \`claude mcp add\`, then \`claude mcp get\` connecting"
	TELCO_MCP_CLAUDE_CODE=$(abspath $(CLAUDE_CODE)) $(BIN)/python -m pytest -q -m client_matrix

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache $(BUNDLE_STAGE) $(CLAUDE_CODE_DIR)
