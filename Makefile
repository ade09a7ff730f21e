# The two commands a newcomer needs; both build seg_d2's environment first if needed.
#   make demo   run the main job on the embedded default
#   make test   run the test suite
VENV := $(shell tools/env/bootstrap.sh)
PYTHON := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: demo test env

demo:
	$(PYTHON) tools/demo.py

test:
	$(PYTHON) -m pytest

env:
	$(PYTHON) -m seg_d2 env
