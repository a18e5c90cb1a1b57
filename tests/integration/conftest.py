# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run the installed collection through ansible-playbook against simulated devices."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, 'sim'))
sys.path.insert(0, HERE)

import fleet  # noqa: E402  pylint: disable=wrong-import-position
from harness import MPS_CONTROL, NVIDIA_ROOT, kill_daemons_under, recap  # noqa: E402  pylint: disable=wrong-import-position
import shared_reference  # noqa: E402  pylint: disable=wrong-import-position

BIN = os.path.dirname(sys.executable)
PLAYBOOKS = os.path.join(HERE, 'playbooks')
PLAYBOOK_TIMEOUT = 900


class Run(object):
    def __init__(self, proc, results_dir):
        self.rc = proc.returncode
        self.output = proc.stdout
        self.results_dir = results_dir

    def result(self, host):
        """What the playbook saved for ``host`` with the save_result tasks."""
        with open(os.path.join(self.results_dir, host + '.json')) as handle:
            return json.load(handle)

    def recap(self):
        """``{host: {ok: n, changed: n, failed: n, ...}}`` from the PLAY RECAP."""
        return recap(self.output)


@pytest.fixture
def iotedge_reference_schema():
    """SchemaStore's manifest schema from ../shared; skips the test where ../shared is absent.
    Name it first among a test's fixtures, so that the skip comes before any fleet is laid out."""
    return shared_reference.iotedge_schema()


@pytest.fixture
def sim_root():
    """A short path: MPS pipe directories below it must fit a UNIX socket path (107 bytes)."""
    root = tempfile.mkdtemp(prefix='egs-')
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fleet_hosts(sim_root):
    """The whole simulated fleet, freshly laid out: ``{host: device name}``.

    Every MPS daemon a test starts under it is killed afterwards.
    """
    hosts = fleet.create(sim_root, nvidia_root=NVIDIA_ROOT if os.path.exists(MPS_CONTROL) else None)
    yield hosts
    kill_daemons_under(sim_root)


@pytest.fixture
def playbook(sim_root, tmp_path):
    """Run ansible-playbook; returns a ``Run``."""
    def run(name, inventory=fleet.INVENTORY, extra_vars=None, args=(), check=False):
        results_dir = str(tmp_path / 'results')
        if not os.path.isdir(results_dir):
            os.makedirs(results_dir)
        variables = {'results_dir': results_dir}
        variables.update(extra_vars or {})
        command = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, '-f', '10',
                   '-e', json.dumps(variables)] + list(args)
        if check:
            command.append('--check')
        command.append(name if '.' in name and not name.endswith('.yml') else os.path.join(PLAYBOOKS, name))
        env = dict(os.environ, EDGE_GPU_SIM_ROOT=sim_root, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')
        # A run that hangs (a device half-gone, a daemon that never answers) fails the test
        # instead of stalling the suite.
        proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False, timeout=PLAYBOOK_TIMEOUT)
        return Run(proc, results_dir)
    return run


@pytest.fixture
def custom_inventory(tmp_path):
    """Write an inventory of hosts whose interpreters the test lays out itself."""
    def write(hosts):
        path = str(tmp_path / 'inventory.yml')
        data = {'all': {'hosts': dict((host, {'ansible_connection': 'local', 'ansible_python_interpreter': python})
                                      for host, python in hosts.items())}}
        with open(path, 'w') as handle:
            yaml.safe_dump(data, handle)
        return path
    return write
