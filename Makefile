# Two commands do all set-up on a fresh machine:
#   make run    install, start the service on the embedded defaults (SQLite, in-process worker, bundled
#               models) and score a real recording through its API
#   make test   install, then run the test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(or $(HOSTSCORE_SHARED_DATA),../shared/data)
CALL ?= $(firstword $(wildcard $(SHARED)/calls/aws_lca_Auto_Repairs_40_STEREO_agentL_callerR.wav) demo-call.wav)
export HF_HUB_OFFLINE := 1

.PHONY: run test bench

# the same script the Dockerfile runs: Debian packages, the venv with torch pinned, hostscore[test]
$(VENV)/.installed: pyproject.toml
	VENV=$(VENV) scripts/install.sh
	touch $@

demo-call.wav: $(VENV)/.installed
	$(PY) -c "from scorer import synth; synth.make_call(synth.RESOLVED_CALL, '$@', sample_rate=8000, telephone_band=True)"

run: $(VENV)/.installed $(CALL)
	$(VENV)/bin/hostscore serve --demo $(CALL) $(if $(PORT),--port $(PORT))

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q -p no:cacheprovider

bench: $(VENV)/.installed
	$(PY) bench/pipeline.py
