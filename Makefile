# Every target bootstraps what it needs: a .venv with the project and its extras.
# PY: the newest python3.NN (3.11 or newer) on PATH that runs, unless set
# (`make PY=/path/to/python3.12 test`). Each name is run, not just looked up:
# pyenv puts shims on PATH for versions that are installed but not active.
ifeq ($(origin PY),undefined)
PY := $(shell for v in $$(seq 99 -1 11); do command -v python3.$$v >/dev/null 2>&1 \
	&& python3.$$v -c '' >/dev/null 2>&1 && { echo python3.$$v; break; }; done)
endif
PY_VERSION := $(if $(PY),$(shell $(PY) -c 'import platform, sys; assert sys.version_info >= (3, 11); \
	print(platform.python_version())' 2>/dev/null))
comma := ,
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Python version that made the venv, as venv records it.
VENV_VERSION := $(shell sed -n 's/^version *= *//p' $(VENV)/pyvenv.cfg 2>/dev/null)

.PHONY: test lint typecheck pytest demo run bench clean print-py

# A venv made by another Python than PY is made anew.
ifneq ($(PY_VERSION),$(VENV_VERSION))
.PHONY: $(VENV)/pyvenv.cfg
endif

$(VENV)/pyvenv.cfg:
	@test -n "$(PY_VERSION)" || { echo "Python 3.11 or newer is needed: $(if $(PY),$(PY) is not one,none on PATH as python3.11$(comma) python3.12$(comma) ...); set PY=/path/to/python3.1x"; exit 1; }
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml $(VENV)/pyvenv.cfg
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,demo]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy bot cogs sandbox bench

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

demo: $(STAMP)
	$(BIN)/python -m sandbox.demo $(if $(SCRIPT),--script,)

run: $(STAMP)
	$(BIN)/python -m bot run

bench: $(STAMP)
	$(BIN)/python -m bench

print-py:
	@echo "PY=$(PY) ($(or $(PY_VERSION),not Python 3.11 or newer)), venv made by $(or $(VENV_VERSION),none)"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
