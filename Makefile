# The README's two commands, `make demo` and `make test`, do all the setup on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.captum-nas-installed
OUT ?= outputs

.PHONY: demo test lint docs bench install clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch and torchvision come from this machine's local disk at these exact versions
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev,pretrained,bench,docs]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/captum-nas explain --out $(OUT) --overwrite

NOTEBOOKS := $(wildcard tutorials/*.ipynb)

# the tests, the docstring examples (doctests; names from ./conftest.py) and the tutorials
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests --doctest-modules captum_nas $(if $(NOTEBOOKS),--nbmake $(NOTEBOOKS))

LINT_DIRS := $(wildcard captum_nas tests benchmarks)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/ruff format --check $(LINT_DIRS)
	$(VENV)/bin/mypy

# the API reference and the tutorials (stored outputs, not re-executed); warnings are errors
docs: $(STAMP)
	$(PY) -m sphinx -b html -W --keep-going -q docs docs/_build/html

bench: $(STAMP)
	$(PY) benchmarks/run_all.py --out benchmarks/results

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache docs/_build docs/_autosummary docs/tutorials
