# Keygate. `make dev` runs everything locally; `make test` proves the contract.
.PHONY: dev test check build bench profile regions fuzz services-up services-down fmt lint

dev: ## Install what is missing, start DynamoDB Local and Redis, serve the functions
	bash local/dev.sh

test: ## Install and start what the tests need, then lint, test and smoke-test
	bash local/test.sh

check: ## The fast inner loop: format check, clippy, unit and integration tests
	bash local/check.sh

build: ## Cross-build every function for arm64 Lambda and print each zip's size
	bash local/build.sh

bench: ## Measure verification against its floor (writes bench/RESULTS.md)
	bash local/bench.sh

profile: ## Count the instructions of one request with callgrind (writes bench/PROFILE-RESULTS.md)
	bash local/profile.sh

regions: ## Simulate two regions: time from a revoke in one to a refusal in the other (writes bench/REGIONS.md)
	bash local/regions.sh

fuzz: ## Fuzz key and request parsing for FUZZ_SECONDS (default 30) per target
	bash local/fuzz.sh

services-up:
	bash local/services.sh up

services-down:
	bash local/services.sh down

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
