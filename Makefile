# The two commands a newcomer needs: `make run` and `make test`. Both install dependencies first.
BUILD_DIR ?= build
DATA_DIR ?= data
LISTEN ?= 127.0.0.1:8443
JOBS ?= 2
PYTHON ?= /usr/bin/python3

.PHONY: deps configure build web run test unit e2e fuzz bench deb clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The portal (web/): type-checked and bundled by Vite into web/dist, which `ward server` serves at /.
web: deps
	@cd web && npm run --silent build -- --logLevel warn

# Debian packages ward and ward-sensor (systemd units, /etc/ward, /var/lib/ward) into build/deb.
deb: build web
	@bash scripts/build-deb.sh $(BUILD_DIR)

run: build web
	@bash scripts/run.sh $(BUILD_DIR) $(DATA_DIR) $(LISTEN)

unit: build
	@cd $(BUILD_DIR) && WARD_REQUIRE_POSTGRES=1 WARD_REQUIRE_CLICKHOUSE=1 ctest --output-on-failure -j $(JOBS)

e2e: build web
	@WARD_BIN=$(abspath $(BUILD_DIR))/ward WARD_REQUIRE_SCALE_OUT=1 $(PYTHON) -m pytest -q tests/e2e

# The KQL front-end fuzzer (clang, ASan/UBSan, its own build in $(BUILD_DIR)/fuzz), FUZZ_SECONDS long.
fuzz: deps
	@JOBS=$(JOBS) bash scripts/fuzz.sh $(BUILD_DIR)

test: unit e2e fuzz

bench: build
	@bash bench/run.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
