# Keygate. `make dev` runs everything locally; `make test` proves the contract.
.PHONY: dev test services-up services-down fmt lint build

dev: ## Install what is missing, start DynamoDB Local and Redis, serve the functions
	bash local/dev.sh

test: ## Install and start what the tests need, then lint, test and smoke-test
	bash local/test.sh

services-up:
	bash local/services.sh up

services-down:
	bash local/services.sh down

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
