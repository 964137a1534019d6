# ekskit: the single entry point. CI runs `make test` through .ci/run, exactly as here.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Build caches live outside the clone so fresh clones (and CI) reuse them.
# Keyed by the checkout's path (scripts/target-dir says why).
export CARGO_TARGET_DIR ?= $(shell scripts/target-dir)
CARGO := cargo
BIN := $(CARGO_TARGET_DIR)/debug
# `cargo xtask` builds xtask with its own dependencies' features, which differ from the
# workspace's: a second build of most of them (the AWS SDKs among them). scripts/test runs the
# xtask the workspace build made instead (XTASK=$(BIN)/xtask).
XTASK ?= $(CARGO) xtask
STACK ?= demo
DOC := .ekskit/$(STACK).json
APP_PORT ?= 18080
# `make up` runs on stack 0, the tests on stack 1 (own ports, state, cluster, registry): a test
# run leaves the demo alone (scripts/devstack, EKSKIT_STACK_INDEX).
TEST_STACK := 1
SHELL_SCRIPTS := scripts/devstack scripts/devstack.d/*.sh scripts/lib.sh scripts/up scripts/deploy scripts/down scripts/install-tools scripts/dist scripts/render-base $(filter-out %.py,$(wildcard scripts/bench/*)) scripts/app-test scripts/app-wheels scripts/app-lock scripts/bootstrap scripts/test scripts/deny scripts/summary scripts/target-dir .ci/run

.PHONY: help bootstrap build lint fmt generate schemas completions render stack test unit bench chaos dist up down

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install what building and testing need (apt, rustup components)
	scripts/bootstrap

build: ## build every tool
	$(CARGO) build --workspace --locked

lint: bootstrap ## formatting, clippy -D warnings, module cycles, shellcheck, ruff, cargo-deny (deny.toml)
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(XTASK) check-modules
	shellcheck -x -P SCRIPTDIR $(SHELL_SCRIPTS)
	$(HOME)/.cache/ekskit/ruff/bin/ruff check app scripts
	scripts/deny

fmt: ## format the code
	$(CARGO) fmt --all

generate: ## regenerate schemas/, completions/, man/ and docs/tools/ from the types and clap definitions (make test checks them)
	$(CARGO) xtask generate

# The older names: one generator writes every generated file, so both run it all.
schemas: generate ## regenerate schemas/ from the output types (with the rest: make generate)

completions: generate ## regenerate completions/ (bash, zsh, fish) and man/ from the clap definitions (with the rest: make generate)

render: ## re-render deploy/base/comments.yaml from the chart (helm from the local stack)
	scripts/devstack up gitops
	source <(scripts/devstack env) && scripts/render-base

stack: bootstrap ## start the tests' local stack (stack 1: moto, dockerd, registry, git daemon, images, Kubernetes and its node, PostgreSQL)
	EKSKIT_STACK_INDEX=$(TEST_STACK) scripts/devstack up

unit: build ## unit tests only, no local stack
	$(CARGO) test --workspace --locked --lib --bins

test: ## everything CI runs: lint, the release tarball and tools image (scripts/dist, pushed to the stack's registry), unit and end-to-end tests on the tests' own local stack, the app's suite, generated files unchanged; the stack comes up while Rust builds (scripts/test)
	TEST_STACK=$(TEST_STACK) scripts/test

bench: bootstrap ## benchmarks, not part of test: kapply vs kubectl apply --server-side + wait; imgpush vs docker push; the app under wrk; release latency (push to Pods serving) vs Argo CD's polling
	$(CARGO) build --release --locked -p kapply -p imgpush
	KAPPLY=$(CARGO_TARGET_DIR)/release/kapply scripts/bench/kapply
	IMGPUSH=$(CARGO_TARGET_DIR)/release/imgpush scripts/bench/imgpush
	scripts/bench/app
	$(CARGO) build --workspace --locked
	scripts/bench/release

# The report has a JSON line per tool (tests/e2e/chaos/ writes them); jq makes the table.
CHAOS_REPORT := $(CARGO_TARGET_DIR)/chaos.jsonl
chaos: build stack ## not part of test (it takes long; make test runs a seeded slice): every tool (mkvpc, mkeks, mkpipeline, imgpush, tagbump, kapply, monstack) killed at every request of a run, re-run and deleted, 20 runs each at 25% injected throttling/5xx and 20 with 10% of answers lost; prints kill points tried, converged, orphans and faulted runs succeeded per tool
	rm -f $(CHAOS_REPORT)
	EKSKIT_CHAOS=full EKSKIT_CHAOS_REPORT=$(CHAOS_REPORT) EKSKIT_STACK_INDEX=$(TEST_STACK) $(CARGO) test --workspace --test e2e --locked -- chaos:: --test-threads=4 || status=$$?; \
	jq -r '"\(.tool)\tkill points \(.kill_points) tried, \(.converged) converged\torphans \(.orphans)\t25% faults: \(.fault_runs_ok)/\(.fault_runs) runs succeeded\t10% answers lost: \(.drop_runs_ok)/\(.drop_runs)\t(\(.create_requests) create / \(.delete_requests) delete requests)"' $(CHAOS_REPORT); \
	exit $${status:-0}

dist: ## static release binaries (musl) of every tool + SHA256SUMS in dist/out; DIST_IMAGE=1 also the tools image (DIST_PUSH=REPOSITORY pushes it, DIST_BASE_IMAGE=IMAGE its base)
	scripts/dist $(if $(DIST_IMAGE),--image) $(if $(DIST_BASE_IMAGE),--base-image $(DIST_BASE_IMAGE)) $(if $(DIST_PUSH),--push $(DIST_PUSH))

up: build ## the whole system on the local stack, offline: up (VPC, EKS, Argo CD, monitoring) then deploy (build, push, bump, roll out)
	scripts/devstack up
	source <(scripts/devstack env) && EKSKIT_BIN=$(BIN) STACK=$(STACK) scripts/up && EKSKIT_BIN=$(BIN) STACK=$(STACK) APP_PORT=$(APP_PORT) scripts/deploy
	source <(scripts/devstack env) && STACK=$(STACK) APP_PORT=$(APP_PORT) scripts/summary

down: build ## delete what `make up` created (checked), then stop the local stack
	if [ -f $(DOC) ]; then source <(scripts/devstack env) && EKSKIT_BIN=$(BIN) STACK=$(STACK) scripts/down; fi
	scripts/devstack down
	EKSKIT_STACK_INDEX=$(TEST_STACK) scripts/devstack down
