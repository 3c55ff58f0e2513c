# mvdirector — `make demo` renders the bundled demo, `make test` runs lint + tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT := examples/out
DEMO_ARGS = --ref $(DEMO_OUT)/photos --singer $(DEMO_OUT)/photos/singer.png \
	--lyrics examples/assets/demo_lyrics.txt --workdir $(DEMO_OUT)/demo.mvd

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	# CPU torch first, so nothing pulls the CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/make_demo.py $(DEMO_OUT)
	$(BIN)/mvdirector render $(DEMO_OUT)/demo_song.wav $(DEMO_ARGS) --colour-match -o $(DEMO_OUT)/demo.mp4
	@echo "demo video: $(DEMO_OUT)/demo.mp4"

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .ruff_cache
