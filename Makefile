# The two commands a new user needs are `make run` and `make test` (see README.md).
SHELL := /bin/bash
CONFIG ?= release

.PHONY: all build build-release run test test-move-scale bench fuzz chaos ha screenshots clean help

all: build

help:
	@echo "make run     build, start PostgreSQL + gateway + both regions, print a working curl line (Ctrl-C stops all)"
	@echo "make test    all tests, unit and integration, against a throwaway real PostgreSQL"
	@echo "make test-move-scale  the tenant move at the issue's scale (100k users, 1k groups, a 20k-member group)"
	@echo "make build   debug build"
	@echo "make bench   benchmarks (see README: what exists today)"
	@echo "make fuzz    bounded fuzzing runs of every libFuzzer target (FUZZ_SECONDS per target, default 60)"
	@echo "make chaos   fault injection under load, several rounds (kill -9, PostgreSQL restart and crash, region replica sets)"
	@echo "make ha      PostgreSQL HA end to end: Patroni failover, a region replica killed, a rolling restart, under load"
	@echo "make screenshots  refresh docs/screenshots/ (the browser test of the setup portal and console)"
	@echo "make clean   remove build output and local clusters"

build:
	@source scripts/swift-env.sh && scripts/deps.sh && swift build

build-release:
	@source scripts/swift-env.sh && scripts/deps.sh && swift build -c release

run:
	@scripts/run.sh $(CONFIG)

test:
	@scripts/test.sh

test-move-scale:
	@SCIM_MOVE_SCALE=full scripts/test.sh --filter aTenantMovesToAnotherRegionWhileItsIdPKeepsWriting

bench:
	@scripts/bench.sh

fuzz:
	@source scripts/swift-env.sh && scripts/fuzz.sh $(or $(FUZZ_SECONDS),60)

chaos:
	@scripts/chaos.sh

ha:
	@scripts/ha/ha.sh

screenshots:
	@SCIM_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots scripts/test.sh --filter BrowserTests

clean:
	-@scripts/pg.sh stop .pg/dev >/dev/null 2>&1 || true
	-@scripts/pg.sh stop .pg/test >/dev/null 2>&1 || true
	rm -rf .build .pg .run
