# edge_gpu.sharing: `make demo` converges the simulated fleet with site.yml, inventories it and
# writes its GPU report, `make test` runs every test. Both set themselves up from nothing.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(CURDIR)/$(VENV)/bin
BUILD       := $(CURDIR)/build
COLLECTIONS := $(BUILD)/collections
SIM_ROOT    := $(BUILD)/sim
NVIDIA_ROOT := $(BUILD)/nvidia
SRC_TREE    := $(BUILD)/src/ansible_collections/edge_gpu/sharing
# Outside the checkout: inside it, ansible-test would ask git and find build/ ignored.
TEST_ROOT   ?= /tmp/edge_gpu_sharing-ansible-test
TEST_TREE   := $(TEST_ROOT)/ansible_collections/edge_gpu/sharing
VERSION     := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL     := $(BUILD)/edge_gpu-sharing-$(VERSION).tar.gz

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export EDGE_GPU_SIM_ROOT := $(SIM_ROOT)
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0
export PYTHONDONTWRITEBYTECODE := 1

PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

.PHONY: demo report test venv tools install fleet nvidia-userland sanity units lint integration molecule gpu-tests changelog clean ssh-fleet-tools core-versions chromium ee-context

# The main job on the bundled fleet: site.yml converges every device to what examples/fleet's
# group_vars ask for (a second run changes nothing), then the GPU inventory shows the result and
# gpu_report.yml writes the fleet's GPU report (build/gpu-report/report.html, .json, .csv).
DEMO_INVENTORY := -i tests/sim/inventory.yml -i examples/fleet/inventory/hosts.yml
REPORT_DIR  := $(BUILD)/gpu-report
REPORT      = $(BIN)/ansible-playbook -f 10 $(DEMO_INVENTORY) edge_gpu.sharing.gpu_report \
	  -e gpu_report_sample_seconds=1 -e gpu_report_dir=$(REPORT_DIR)
demo: install fleet
	$(BIN)/ansible-playbook -f 10 $(DEMO_INVENTORY) edge_gpu.sharing.site
	$(BIN)/ansible-playbook -f 10 $(DEMO_INVENTORY) edge_gpu.sharing.gpu_inventory
	$(REPORT)

# The fleet GPU report alone (on the fleet as it is now: a fresh fleet shows every device's drift).
report: install fleet
	$(REPORT)

test: install fleet nvidia-userland chromium sanity units lint integration molecule gpu-tests changelog core-versions
	@echo "make test: all suites passed"

venv: $(VENV)/.installed
$(VENV)/.installed: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
	touch $@

# Build the Galaxy tarball and install it, so every test uses the collection as users get it.
install: venv
	rm -rf $(COLLECTIONS) $(BUILD)/edge_gpu-sharing-*.tar.gz
	mkdir -p $(COLLECTIONS)
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD) .
	$(BIN)/ansible-galaxy collection install --offline --no-deps --force -p $(COLLECTIONS) $(TARBALL)

# The execution environment's build context (no container engine needed): build/ee/Containerfile.
ee-context: install
	rm -rf $(BUILD)/ee
	$(BIN)/ansible-builder create -f execution-environment.yml -c $(BUILD)/ee --output-filename Containerfile

fleet: venv nvidia-userland
	$(BIN)/python tests/sim/fleet.py --root $(SIM_ROOT) --nvidia-root $(NVIDIA_ROOT)

# NVIDIA's real NVML library and MPS control daemon (Debian non-free), unpacked under build/.
nvidia-userland:
	tests/sim/fetch_nvidia_userland.sh $(NVIDIA_ROOT)

# ansible-test wants the collection at .../ansible_collections/<namespace>/<name>: copy the files git knows.
# ansible-test's shellcheck sanity test needs shellcheck, and the mps role's unit test needs
# systemd-analyze (Debian package systemd; no systemd needs to run): install them where we may.
tools:
	@command -v shellcheck >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -qq --no-install-recommends shellcheck >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq --no-install-recommends shellcheck >/dev/null)); } || \
	  echo "warning: shellcheck is not installed; ansible-test skips its shell checks"
	@command -v systemd-analyze >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -qq --no-install-recommends systemd >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd >/dev/null)); } || \
	  echo "warning: systemd-analyze is not installed; the systemd unit test skips its check"

# The SSH fleet test (tests/integration/ssh) runs sshd on each simulated device, and `become`
# through sudo (su would turn pipelining off). Install both where we may (the test needs root anyway).
ssh-fleet-tools:
	@{ [ -x /usr/sbin/sshd ] && command -v sudo >/dev/null; } || { [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -qq --no-install-recommends openssh-server sudo >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq --no-install-recommends openssh-server sudo >/dev/null)); } || \
	  echo "warning: openssh-server or sudo is not installed; the SSH fleet test needs them as root"

# The report tests open report.html in headless Chromium (Debian package chromium): install it where
# we may (before the unit tests, which have a browser test too). The integration target then
# requires it (EDGE_GPU_REQUIRE_CHROMIUM=1); elsewhere those tests skip their Chromium checks.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null)); } || \
	  echo "warning: chromium is not installed; the GPU report test skips its browser checks"

sanity: venv tools
	rm -rf $(TEST_ROOT) && mkdir -p $(TEST_TREE)
	git ls-files -co --exclude-standard -z | xargs -0 tar -cf - | tar -xf - -C $(TEST_TREE)
	$(BIN)/python tests/ci/install_get_pip.py
	cd $(TEST_TREE) && $(BIN)/ansible-test sanity --venv --python 3.11 --color no

$(SRC_TREE):
	mkdir -p $(dir $(SRC_TREE)) && ln -sfn $(CURDIR) $(SRC_TREE)

units: venv $(SRC_TREE)
	cd $(BUILD)/src && PYTHONPATH=$(BUILD)/src $(PYTEST) --import-mode=importlib -c $(CURDIR)/tests/pytest.ini \
	  --rootdir $(CURDIR) \
	  --cov=ansible_collections.edge_gpu.sharing.plugins --cov-branch --cov-report=term-missing:skip-covered \
	  $(CURDIR)/tests/unit

lint: venv
	$(BIN)/ansible-lint --offline --profile production

# Each test lays out its own fleet under /tmp, so two workers can run side by side.
integration: install fleet nvidia-userland tools ssh-fleet-tools chromium
	EDGE_GPU_NVIDIA_ROOT=$(NVIDIA_ROOT) EDGE_GPU_REQUIRE_NVIDIA_USERLAND=1 \
	  EDGE_GPU_REQUIRE_CHROMIUM=$$(command -v chromium >/dev/null && echo 1) \
	  $(PYTEST) --import-mode=importlib -c tests/pytest.ini -n 2 tests/integration

# The roles' molecule scenarios (extensions/molecule/*: default, fleet, transitions, mps), on the
# simulated fleet (reset first) with NVIDIA's real MPS daemon; each scenario's cleanup stops it.
molecule: install fleet
	cd $(CURDIR) && $(BIN)/molecule test --all

# Real-GPU tests: they skip themselves where no NVIDIA GPU is present.
gpu-tests: install
	$(PYTEST) --import-mode=importlib -c tests/pytest.ini -rs tests/gpu

changelog: venv
	$(BIN)/antsibull-changelog lint

# The older ansible-core minors meta/runtime.yml declares (tests/ci/ansible-core-versions.txt):
# sanity, unit tests and site.yml on the simulated fleet with each (gpu_report.yml on the oldest),
# in its own virtualenv.
core-versions: install nvidia-userland tools $(SRC_TREE)
	$(BIN)/python tests/ci/install_get_pip.py
	EDGE_GPU_NVIDIA_ROOT=$(NVIDIA_ROOT) EDGE_GPU_REQUIRE_NVIDIA_USERLAND=1 PYTHON=$(PYTHON) TEST_ROOT=$(TEST_ROOT) \
	  tests/ci/core_versions.sh

clean:
	rm -rf $(BUILD) $(VENV) tests/output

# Fleet converge timings (site.yml against ping and a hand-written playbook): not part of `make test`.
.PHONY: bench
bench: install nvidia-userland
	$(BIN)/python benchmarks/fleet_converge.py
