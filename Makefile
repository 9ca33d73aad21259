# Tessera — the two commands a newcomer needs: `make run` and `make test`.
CARGO ?= cargo
ARGS ?=

.PHONY: deps build run test bench lint fmt clean screenshot
BROWSER_DEPS := tests/browser/node_modules/.installed

deps:
	@bash scripts/install-deps.sh

build: deps
	$(CARGO) build --release --locked -p tessera

## Build and start the server on http://127.0.0.1:8080/ (pass flags with ARGS="..."), in
## development mode (loopback only; every local caller is an administrator). DEV= turns it off.
DEV ?= --dev
run: build
	./target/release/tessera serve $(DEV) $(ARGS)

# puppeteer-core, pinned by tests/browser/package-lock.json; it never downloads a browser.
$(BROWSER_DEPS): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $@

## Install what is missing and run every test.
test: deps $(BROWSER_DEPS)
	@$(CARGO) nextest --version >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) nextest run --locked --workspace
	$(CARGO) test --locked --workspace --doc

## Benchmark against the bare GStreamer floor and Janus; writes bench/results/<date>.json and
## docs/benchmarks.md (QUICK=1: N=4 only, about a minute, results not written to docs/;
## ONLY=observability, ONLY=agents, ONLY=audio or ONLY=viewers: that step alone, printed).
bench: deps
	$(CARGO) build --release --locked -p tessera -p tessera-bench
	./target/release/tessera-bench bench $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

## Regenerate docs/screenshot.png (a page in a room of three, headless Chromium).
screenshot: deps $(BROWSER_DEPS)
	TESSERA_SCREENSHOT=$(CURDIR)/docs/screenshot.png $(CARGO) nextest run --locked browser_room::

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

clean:
	$(CARGO) clean
