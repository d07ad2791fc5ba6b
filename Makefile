# Two commands do all set-up on a fresh machine:
#   make run    install, then score a real recording on the embedded defaults (CPU or GPU, bundled models)
#   make test   install, then run the test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(or $(HOSTSCORE_SHARED_DATA),../shared/data)
CALL ?= $(firstword $(wildcard $(SHARED)/calls/aws_lca_Auto_Repairs_40_STEREO_agentL_callerR.wav) demo-call.wav)
DEBIAN_PACKAGES := ffmpeg sox espeak-ng libsndfile1
export HF_HUB_OFFLINE := 1

.PHONY: run test system-packages bench

$(VENV)/.installed: pyproject.toml
	@$(MAKE) --no-print-directory system-packages
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned resolve pulls a multi-GB CUDA build
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $@

system-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	fi

demo-call.wav: $(VENV)/.installed
	$(PY) -c "from scorer import synth; synth.make_call(synth.RESOLVED_CALL, '$@', sample_rate=8000, telephone_band=True)"

run: $(VENV)/.installed $(CALL)
	$(VENV)/bin/hostscore score $(CALL)

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q -p no:cacheprovider

bench: $(VENV)/.installed
	$(PY) bench/pipeline.py
