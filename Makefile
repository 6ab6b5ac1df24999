# The two commands of a fresh machine: `make book` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= auto

.PHONY: book test notebooks html check-book clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e ".[book,dev,browser]"
	touch $@

book: notebooks html

notebooks: $(VENV)/.installed
	$(VENV)/bin/lrlab notebooks --profile $(PROFILE)

html: $(VENV)/.installed
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

# every built page in headless Chromium: console errors, images, links, raw TeX, 390-px overflow ...
check-book: $(VENV)/.installed
	$(VENV)/bin/lrlab check-book

test: $(VENV)/.installed
	$(PY) -m pytest -q

clean:
	rm -rf _build book/_generated
