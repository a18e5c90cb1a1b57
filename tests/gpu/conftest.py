# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real-GPU tests: skipped unless nvidia-smi lists at least one GPU on this machine."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from smi import has_gpu  # noqa: E402  pylint: disable=wrong-import-position


def pytest_collection_modifyitems(config, items):
    if has_gpu():
        return
    skip = pytest.mark.skip(reason='no NVIDIA GPU on this machine (nvidia-smi -L lists none)')
    for item in items:
        item.add_marker(skip)


@pytest.fixture
def run_module_locally(tmp_path):
    """Run one module on localhost through ansible-playbook with the real pynvml; return its result."""
    def run(module, args):
        out = tmp_path / 'result.json'
        play = [{
            'hosts': 'localhost', 'gather_facts': False,
            'vars': {'ansible_python_interpreter': sys.executable},
            'tasks': [
                {module: args, 'register': 'result'},
                {'ansible.builtin.copy': {'content': '{{ result | to_json }}', 'dest': str(out), 'mode': '0644'}},
            ],
        }]
        playbook = tmp_path / 'play.yml'
        playbook.write_text(json.dumps(play))
        proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-c', 'local', '-i', 'localhost,', str(playbook)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        assert proc.returncode == 0, proc.stdout
        return json.loads(out.read_text())
    return run
