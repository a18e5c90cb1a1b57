#!/usr/bin/env bash
# Test the collection on every older ansible-core minor that meta/runtime.yml declares (the pinned
# one is what the rest of `make test` uses): ansible-test sanity (less the style checks), the unit tests, and site.yml's
# dry run, converge and re-run on the simulated fleet. Each version gets its own virtualenv under
# build/ansible-core/, with the same pinned test tools as .venv but that ansible-core.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
test_root=${TEST_ROOT:-/tmp/edge_gpu_sharing-ansible-test}
# kubernetes.core, which galaxy.yml declares, comes from the pinned `ansible` package in .venv.
dependencies=$("$root/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

cd "$root"
mapfile -t pins < <(grep -vE '^(#|$)' tests/ci/ansible-core-versions.txt)
for pin in "${pins[@]}"; do
    minor=${pin%.*}
    venv=$root/build/ansible-core/$minor
    if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$pin" ]; then
        rm -rf "$venv"
        "$python" -m venv "$venv"
        # The test tools of tests/requirements.txt, without the pinned ansible-core and what needs it.
        grep -vE '^(ansible|ansible-core|ansible-lint|molecule|antsibull-changelog)==' tests/requirements.txt \
            > "$venv/requirements.txt"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "ansible-core==$pin" -r "$venv/requirements.txt"
        echo "$pin" > "$venv/.installed"
    fi

    echo "== ansible-core $pin: sanity"
    tree=$test_root-$minor/ansible_collections/edge_gpu/sharing
    rm -rf "$test_root-$minor" && mkdir -p "$tree"
    git ls-files -co --exclude-standard -z | xargs -0 tar -cf - | tar -xf - -C "$tree"
    # pylint, pep8 and changelog check style with tools of their own, not ansible-core's API: they
    # run once, on the pinned ansible-core (make sanity), which keeps this loop inside CI's time.
    (cd "$tree" && "$venv/bin/ansible-test" sanity --venv --python 3.11 --color no \
        --skip-test pylint --skip-test pep8 --skip-test changelog)

    echo "== ansible-core $pin: unit tests"
    (cd build/src && PYTHONPATH="$root/build/src" "$venv/bin/python" -m pytest -p no:cacheprovider -q \
        --import-mode=importlib -c "$root/tests/pytest.ini" --rootdir "$root" "$root/tests/unit")

    echo "== ansible-core $pin: site.yml on the simulated fleet"
    PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$root/build/collections:$dependencies" \
        "$venv/bin/python" -m pytest -p no:cacheprovider -q --import-mode=importlib -c tests/pytest.ini \
        "tests/integration/test_site.py::test_dry_run_converge_rerun_across_the_fleet"

    # Before 2.19 templates render text (a null becomes '', JSON text turns back into data): the
    # fleet report's playbook on the oldest minor, whose templating 2.17 and 2.18 share.
    if [ "$pin" = "${pins[0]}" ]; then
        echo "== ansible-core $pin: gpu_report.yml on the simulated fleet"
        PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$root/build/collections:$dependencies" \
            "$venv/bin/python" -m pytest -p no:cacheprovider -q --import-mode=importlib -c tests/pytest.ini \
            tests/integration/test_gpu_report.py
    fi
done
