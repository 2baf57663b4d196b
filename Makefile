# make bench: set up, tune the benchmark cases (resumable), benchmark the release-target ops on this
#             machine and write the dashboard.
# make test:  set up, then run the whole test suite.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
EXTRAS ?= onednn,peers,bench,test,distributed,train

.PHONY: setup bench test check clean browser

$(STAMP): pyproject.toml Makefile
	@# PoCL gives OpenCL a CPU device; needs root and Debian's packages.
	@if ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1 && command -v apt-get >/dev/null; then \
	  apt-get install -y -qq pocl-opencl-icd ocl-icd-libopencl1 >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq pocl-opencl-icd ocl-icd-libopencl1 >/dev/null) || \
	  echo "warning: could not install PoCL; the OpenCL backend will report itself unavailable"; fi
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

setup: $(STAMP)

test: setup
	$(PY) -m pytest -q -ra -n auto --dist loadgroup

# asv's machine name matches `hakl bench`'s (xeon-avx512-2core, epyc-avx2-2core, h100) so both land on one dashboard page.
MACHINE ?= $(shell $(PY) -c "import hakl.backends as b, hakl.bench as h; print(h.machine_name('cuda' if b.get('cuda').available else 'cpu'))")

# Chromium (~100 MB): `make bench` writes the dashboard and installs it, so the test that loads the
# pages in a headless browser runs after it; `make test` alone (CI's time budget) skips that test.
browser:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then \
	  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null) || \
	  echo "warning: could not install chromium; the dashboard's browser test will skip"; fi

# Tuned choices made on this kind of machine before (reports/<machine>/tuning.json: keyed by
# device fingerprint, and each verified here before it serves), then `hakl bench` tunes the
# keys they leave as it reaches each case (3 minutes in all: one pass over the cases, not a
# `hakl tune --suite` pass and a bench pass); the choices are written back for the next clone.
# Before timing, every core compiles and verifies the cpu cases (a fresh clone's numba cache is cold).
TUNED = reports/$(MACHINE)/tuning.json
ASV_DEVICES ?= $(shell test -e /dev/nvidiactl && echo cpu,cuda,opencl || echo cpu)

bench: setup browser
	@if [ -f $(TUNED) ]; then $(VENV)/bin/hakl cache import $(TUNED); fi
	$(VENV)/bin/hakl bench --quick --tune-minutes 3 --prepare-processes $(shell nproc)
	mkdir -p $(dir $(TUNED)) && $(VENV)/bin/hakl cache export --choices $(TUNED)
	cd asv_bench && ../$(PY) -m asv machine --yes --machine $(MACHINE) >/dev/null
	@# The asv suite's quick cases (HAKL_ASV_QUICK: hakl bench --quick's), one sample each,
	@# on ASV_DEVICES: the whole suite on every device (1152 cases on a CPU host with PoCL)
	@# took over 45 minutes on 2 cores; PoCL, this CPU again, is in hakl bench's records.
	cd asv_bench && HAKL_ASV_QUICK=1 HAKL_BENCH_DEVICES=$(ASV_DEVICES) ../$(PY) -m asv run --python=same --quick --show-stderr --machine $(MACHINE) \
	  --set-commit-hash $$(git rev-parse HEAD)
	$(VENV)/bin/hakl report --out reports

clean:
	rm -rf $(VENV) build *.egg-info
