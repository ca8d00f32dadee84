# Differentiate Almost Everywhere: the two commands.
#
#   make book   build the website into _build/html
#   make test   lint, unit tests, nbval over every notebook in _toc.yml, build with -W,
#               then check the built site makes no request to another host
#
# Both bootstrap from a fresh clone: .venv from requirements-lock.txt, node_modules from
# package-lock.json, and _vendor/ (the JavaScript the site serves itself).  Stamp files
# make reruns skip whatever is already up to date.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := book
.DELETE_ON_ERROR:
# The steps of `make test` must run in order, even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# Jupyter, nbval and jupyter-book start kernels by the kernelspec name "python3"; with the
# venv first on PATH (and its share/jupyter first on JUPYTER_PATH) that name resolves to
# the venv's Python, whatever else is installed on the machine.
RUN := PATH="$(BIN):$$PATH" JUPYTER_PATH="$(CURDIR)/$(VENV)/share/jupyter" \
	JUPYTER_PLATFORM_DIRS=1 PYDEVD_DISABLE_FILE_VALIDATION=1

VENV_STAMP := $(VENV)/.stamp-installed
NODE_STAMP := node_modules/.stamp-npm-ci
# The vendored tree's notice file doubles as its stamp (a dot file in _vendor/ would be
# published by html_extra_path).
VENDOR_STAMP := _vendor/vendor/THIRD-PARTY.txt
HTML := _build/html

LINT_DIRS = $(wildcard relaxlib tests tools benchmarks)
# Every notebook listed in _toc.yml, in order (tools/bookinfo.py fails if one is missing).
NOTEBOOKS = $(shell $(BIN)/python tools/bookinfo.py notebooks)
NB_RUFF_IGNORE = $(shell $(BIN)/python tools/bookinfo.py nb-ruff-ignore)

.PHONY: book test lint unit nbval build site-test colab-test student venv node vendor lock clean distclean help

help:
	@echo "make book    build the website into $(HTML) (bootstraps .venv, node_modules, _vendor)"
	@echo "make test    ruff, pytest, nbval over _toc.yml notebooks, jupyter-book -W, site tests"
	@echo "make lint    ruff check + format check, and ruff on the notebooks via nbqa"
	@echo "make student write the exercise notebooks exercises/NN_name.ipynb (no solutions, no outputs);"
	@echo "             a notebook you have edited is kept, the new one goes beside it (.new.ipynb)"
	@echo "make lighthouse  Lighthouse scores of three pages (phone, desktop) into README.md"
	@echo "make lock    rewrite requirements-lock.txt from the current .venv"
	@echo "make clean   remove build output; make distclean also removes .venv, node_modules"

# ---------------------------------------------------------------- bootstrap

venv: $(VENV_STAMP)
$(VENV_STAMP): requirements-lock.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--no-deps --no-build-isolation -e .
	touch $@

node: $(NODE_STAMP)
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

vendor: $(VENDOR_STAMP)
# Sphinx copies html_extra_path only when some page is rebuilt, and stamps each page with
# the checksums of the scripts it loads: when the vendored files change, drop the built
# HTML (not the notebook execution cache) so the next build writes everything afresh.
$(VENDOR_STAMP): $(NODE_STAMP) Makefile site/widgets-config.js
	rm -rf _vendor $(HTML)
	mkdir -p _vendor/vendor/jupyter-widgets
	cp node_modules/requirejs/require.js _vendor/vendor/require.js
	cp node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js \
		node_modules/@jupyter-widgets/html-manager/dist/*.woff2 \
		node_modules/@jupyter-widgets/html-manager/dist/*.woff _vendor/vendor/jupyter-widgets/
	cp site/widgets-config.js _vendor/vendor/jupyter-widgets/config.js
	{ echo "Third-party files served by this site (copied from npm by 'make vendor'):"; \
	  for p in requirejs @jupyter-widgets/html-manager; do \
	    node -p "const m = require('./node_modules/$$p/package.json'); \
	      m.name + ' ' + m.version + ' (' + m.license + ')'"; \
	  done; } > $@.tmp
	mv $@.tmp $@

# ---------------------------------------------------------------- the book

# Any Sphinx warning fails the build.  Notebooks run only when their code changed since
# the last build (execute_notebooks: cache, results kept in _build/.jupyter_cache).
BOOK_FLAGS := -W --keep-going

book: $(VENV_STAMP) $(VENDOR_STAMP)
	$(RUN) jupyter-book build . $(BOOK_FLAGS)

# What `make test` runs: every page re-read (--all), so that warnings of pages unchanged
# since the last incremental build are reported too. It shows the notebooks' stored outputs
# instead of executing them a second time: `make nbval`, the step before, has just re-run
# every notebook and compared its outputs with them. (The configuration is _config.yml with
# `execute_notebooks: "off"`, written next to it, git-ignored: paths in it are relative to
# its folder.)
TEST_CONFIG := .test-config.yml
build: $(VENV_STAMP) $(VENDOR_STAMP)
	sed -E 's/^(\s*execute_notebooks:).*/\1 "off"/' _config.yml > $(TEST_CONFIG)
	grep -q 'execute_notebooks: "off"' $(TEST_CONFIG)
	$(RUN) jupyter-book build . $(BOOK_FLAGS) --all --config $(TEST_CONFIG)

# The exercise notebooks, exercises/NN_name.ipynb: each chapter without its solutions and
# outputs (tools/make_student.py). Committed, so that Colab opens them from the repository
# and the site serves them; tests/test_student.py checks they are up to date and run. A
# notebook someone has edited is never overwritten: the new one is written beside it.
student: $(VENV_STAMP)
	$(RUN) python tools/make_student.py

# ---------------------------------------------------------------- tests

test: lint unit nbval build site-test colab-test
	@echo "make test: all steps passed"

lint: $(VENV_STAMP) actionlint
	$(RUN) ruff check $(LINT_DIRS)
	$(RUN) ruff format --check $(LINT_DIRS)
	notebooks="$(NOTEBOOKS)"; ignore="$(NB_RUFF_IGNORE)"; \
	if [ -n "$$notebooks" ]; then \
	  $(RUN) nbqa ruff $$notebooks $${ignore:+--extend-ignore=$$ignore}; \
	  $(RUN) nbqa "ruff format" --check $$notebooks; \
	fi

# pytest exits 5 when it collected nothing; say so instead of failing without a reason.
define pytest_or_explain
status=0; $(RUN) python -m pytest $(1) || status=$$?; \
if [ $$status -eq 5 ]; then echo "error: pytest collected no tests ($(strip $(2)))" >&2; fi; \
exit $$status
endef

unit: $(VENV_STAMP)
	$(call pytest_or_explain,tests relaxlib dae_course --doctest-modules \
		--ignore=tests/site --ignore=tests/colab -n 2,unit tests and doctests)

nbval: $(VENV_STAMP)
	notebooks="$(NOTEBOOKS)"; \
	if [ -z "$$notebooks" ]; then echo "error: _toc.yml lists no notebooks" >&2; exit 1; fi; \
	$(call pytest_or_explain,--nbval --nbval-current-env -n 2 --dist loadfile \
		--nbval-sanitize-with tests/nbval-sanitize.cfg $$notebooks,nbval)

# The browser tests inject axe-core from node_modules (package-lock.json pins it).
site-test: $(VENV_STAMP) $(NODE_STAMP)
	$(call pytest_or_explain,tests/site,site tests against $(HTML))

# Every chapter copied alone into an empty folder and run by a kernel in a fresh venv that
# holds only what Colab provides; its setup cell installs relaxlib from this checkout.
colab-test: $(VENV_STAMP)
	$(call pytest_or_explain,tests/colab -n 2,Colab-like runs of the chapters)

.PHONY: actionlint test-gpu gpu-wheels bench time-chapters ch08-seeds lighthouse

# Lighthouse (npm, pinned in package.json: 12.2.3, the last release for Node 20) with
# Debian's Chromium on the intro, chapter 3 and chapter 8 of the built site, served gzipped
# (tools/serve_gzip.py), as a phone and as a desktop; writes the scores into README.md's
# table (tools/lighthouse.py). Not part of `make test`: performance depends on the machine's
# load. LIGHTHOUSE_RUNS=2 measures each page twice (the table shows every run; the bar is
# checked on the median).
LIGHTHOUSE_RUNS ?= 1
lighthouse: $(VENV_STAMP) $(NODE_STAMP)
	CHROME_PATH="$${CHROME_PATH:-/usr/bin/chromium}" $(RUN) python tools/lighthouse.py \
		--site $(HTML) --runs $(LIGHTHOUSE_RUNS)

# The workflow files checked by actionlint (rhysd/actionlint compiled to WebAssembly, from
# npm: no binary is downloaded); .github/actionlint.yaml declares the runner label `gpu`.
actionlint: $(NODE_STAMP)
	node tools/actionlint.cjs

# The GPU check (tools/gpu_check.py): the relaxlib tests (their CUDA cases run where torch
# sees a GPU), strict nbval over the notebooks of _toc.yml with RELAXLIB_DEVICE=cuda against
# the same stored outputs, and the benchmark at 1e6 elements on CUDA; without a GPU all three
# run on the CPU and the summary says so.  It needs no network and bootstraps nothing: it runs
# with PY (default: .venv's Python if there is one, else python3) and takes what that Python
# lacks of tools/gpu-wheels.txt from $(WHEELS)/ (filled by `make gpu-wheels` on a machine with
# network).  Log and summary.md go to $(GPU_CHECK_OUT); it exits 1 if any step failed.
# GPU_CHECK_REQUIRE_CUDA=1 also fails it where torch sees no GPU.
PY ?= $(if $(wildcard $(VENV)/bin/python),$(BIN)/python,python3)
WHEELS ?= .whl
GPU_CHECK_OUT ?= _build/gpu-check
# The same sanitize file as `make nbval` (tests/test_gpu_check.py checks that they agree).
NBVAL_SANITIZE ?= tests/nbval-sanitize.cfg

test-gpu:
	GPU_WHEELS="$(WHEELS)" GPU_CHECK_OUT="$(GPU_CHECK_OUT)" NBVAL_SANITIZE="$(NBVAL_SANITIZE)" \
		$(PY) tools/gpu_check.py

# The wheels of tools/gpu-wheels.txt for CPython 3.12 on manylinux x86-64 (the GPU machine's
# Python), without their dependencies (the list names every one that machine lacks), into
# $(WHEELS)/, replacing what was there: about 12 MiB.
GPU_WHEEL_PLATFORMS := manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
gpu-wheels:
	rm -rf $(WHEELS).tmp
	$(if $(wildcard $(VENV)/bin/python),$(BIN)/python,$(PYTHON)) -m pip download --quiet \
		--disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp $(addprefix --platform ,$(GPU_WHEEL_PLATFORMS)) \
		-d $(WHEELS).tmp -r tools/gpu-wheels.txt
	rm -rf $(WHEELS)
	mv $(WHEELS).tmp $(WHEELS)
	@echo "$(WHEELS)/: $$(ls $(WHEELS) | wc -l) wheels, $$(du -sh $(WHEELS) | cut -f1)"

# ---------------------------------------------------------------- speed (not tests)

# relaxlib against PyTorch, forward + backward, 1e3 to 1e7 elements, 1 and all threads
# (see benchmarks/README.md); narrow it with e.g. BENCH_ARGS="--sizes 1e6 --threads 1".
bench: $(VENV_STAMP)
	$(RUN) python benchmarks/bench_relaxlib.py $(BENCH_ARGS)

# Chapter 8's seed study: every estimator on both datasets over ten seeds (about 10 min on
# a quiet 2-core machine); writes benchmarks/ch08_seeds.md, which the chapter's prose cites.
ch08-seeds: $(VENV_STAMP)
	$(RUN) python benchmarks/ch08_seeds.py

# Each notebook of _toc.yml run in a fresh kernel, timed against its budget.
time-chapters: $(VENV_STAMP)
	$(RUN) python tools/time_chapters.py

# ---------------------------------------------------------------- maintenance

# Regenerate the lock from the venv (after changing requirements.in and reinstalling).
# relaxlib itself and pip are left out; torch is written without its local "+cpu" label.
lock: $(VENV_STAMP)
	{ echo "# Fully pinned book/test environment: 'make' installs exactly this into .venv."; \
	  echo "# Generated by 'make lock' from a venv built from requirements.in; do not edit."; \
	  $(BIN)/python -c 'import sys; print("# python: %d.%d" % sys.version_info[:2])'; \
	  $(BIN)/python -m pip freeze --all --exclude-editable \
	    | grep -v -i -E '^(pip|relaxlib)(==| @)' \
	    | sed -E 's/^torch==([^+]*)\+.*/torch==\1/'; } > requirements-lock.txt.tmp
	mv requirements-lock.txt.tmp requirements-lock.txt
	touch $(VENV_STAMP)

clean:
	rm -rf _build _vendor .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) node_modules
