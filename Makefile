# Watchhouse: `make run` serves the demo, `make test` runs the suite, `make lint` checks style.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: install browser run test test-sqlite test-postgres lint format messages bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed node_modules/.installed

# Independent servers the outlet tests talk to on loopback, each from the npm registry: a
# Fedify ActivityPub server and a Bluesky PDS (@atproto/dev-env; its SQLite module compiles
# from source here, a few minutes the first time).
PEERS := tests/outlets/activitypub/peer tests/outlets/pds
PEERS_INSTALLED := $(addsuffix /node_modules/.installed,$(PEERS))
%/node_modules/.installed: %/package.json %/package-lock.json
	npm ci --prefix $* --no-audit --no-fund --loglevel=error
	touch $@

# Browser tests drive Debian's Chromium; media tests and the worker's transcoding use Debian's
# ffmpeg. Install them where this user may (root with apt-get).
browser:
	@missing=""; [ -x /usr/bin/chromium ] || missing="chromium"; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Debian's$$missing not installed: the tests that need them will be skipped (apt-get install$$missing)."; \
	  fi; \
	fi

run: install browser
	$(BIN)/watchhouse migrate --noinput
	$(BIN)/watchhouse collectstatic --noinput --verbosity 0
	$(BIN)/watchhouse demo
	WATCHHOUSE_DAILY="$${WATCHHOUSE_DAILY-06:00 send-crime-digests; 04:00 outlets sync; 04:10 outlets check-tokens; 03:30 monitoring purge}" $(BIN)/watchhouse serve --port $(PORT)

test: install browser $(PEERS_INSTALLED)
	WATCHHOUSE_ENV=test $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy watchhouse

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

messages: install
	cd watchhouse && ../$(BIN)/watchhouse makemessages --locale es --no-obsolete
	cd watchhouse && ../$(BIN)/watchhouse compilemessages --locale es

bench: install
	$(BIN)/python bench/areas.py

clean:
	rm -rf $(VENV) node_modules var $(addsuffix /node_modules,$(PEERS))
