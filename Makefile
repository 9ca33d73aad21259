# Tessera — the two commands a newcomer needs: `make run` and `make test`.
CARGO ?= cargo
ARGS ?=

.PHONY: deps build run test lint fmt clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(CARGO) build --release --locked

## Build and start the server on http://127.0.0.1:8080/ (pass flags with ARGS="...").
run: build
	./target/release/tessera serve $(ARGS)

## Install what is missing and run every test.
test: deps
	@$(CARGO) nextest --version >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) nextest run --locked
	$(CARGO) test --locked --doc

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

clean:
	$(CARGO) clean
