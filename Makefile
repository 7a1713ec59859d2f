SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory --warn-undefined-variables

BIN := .venv/bin

.PHONY: help install up down status demo test check lint types contracts fmt bench

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-9s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## Set up the machine and the venv (apt, pip); only checks when done already
	@bash infra/stack/provision.sh

up: install ## Start the local stack (PostgreSQL, Kafka, registry, CRM simulator) and create the topics
	@$(BIN)/agentledger up

down: ## Stop what the project started; external components are never touched
	@if [ -x $(BIN)/agentledger ]; then $(BIN)/agentledger down; fi

status: install ## Show each component: address, pid, health, version, log
	@$(BIN)/agentledger status

demo: up ## Set everything up and run the demo scenario end to end
	@$(BIN)/agentledger demo

test: up ## Set everything up, gate the contracts, run every test against the real stack
	@$(BIN)/agentledger schemas check
	@$(BIN)/pytest

check: lint types contracts test ## Lint, types, import contracts and the tests

lint: install ## ruff lint and format check
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

types: install ## mypy --strict
	@$(BIN)/mypy

contracts: install ## import-linter layer contracts
	@$(BIN)/lint-imports

fmt: install ## Format and auto-fix
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

bench: up ## Run bench/ and write bench/results.json
	@$(BIN)/python -m bench
