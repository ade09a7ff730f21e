# The two commands a newcomer needs; both build seg_d2's environment first if needed.
#   make demo   run the main job on the embedded default
#   make test   run the test suite
VENV := $(shell tools/env/bootstrap.sh)
ifeq ($(VENV),)
$(error seg_d2: building the Python environment failed; tools/env/bootstrap.sh printed why above)
endif
PYTHON := $(VENV)/bin/python

.PHONY: demo test env

demo:
	$(PYTHON) tools/demo.py

test:
	$(PYTHON) -m pytest

env:
	$(PYTHON) -m seg_d2 env
