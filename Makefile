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
	$(BIN)/mvdirector render $(DEMO_OUT)/demo_song.wav $(DEMO_ARGS) --colour-match -o $(DEMO_OUT)/demo.mp4 \
		--size 1280x720 --formats 16:9,9:16=540x960,1:1=720x720
	@echo "demo: $(DEMO_OUT)/demo.16x9.mp4 demo.9x16.mp4 demo.1x1.mp4 (+ .jpg covers), demo.srt demo.vtt demo.lrc"

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

# Every benchmarks/*.py (BENCHES= picks some); exit 77 means "cannot run here" (the GPU ones without CUDA):
# reported as skipped, the others still run.
BENCHES ?= $(wildcard benchmarks/*.py)

bench: $(STAMP)
	for b in $(BENCHES); do echo "== $$b"; $(BIN)/python $$b; rc=$$?; \
		if [ $$rc -eq 77 ]; then echo "   (skipped)"; elif [ $$rc -ne 0 ]; then exit $$rc; fi; done

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .ruff_cache
