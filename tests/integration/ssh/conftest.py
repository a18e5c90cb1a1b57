# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures for playbooks run over real SSH against simulated devices (see sshfleet.py).

``ssh_fleet`` (one per test module) yields an ``SshFleet``: ``.inventory`` (the path to give
ansible-playbook), ``.hosts`` (its devices), ``.sim_root``, ``.namespace(host)``, ``.address(host)``,
``.env`` (what ansible-playbook's environment needs). ``ssh_playbook`` runs a playbook against
it the way the ``playbook`` fixture of tests/integration does for the local fleet.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from harness import MPS_CONTROL, NVIDIA_ROOT  # noqa: E402  pylint: disable=wrong-import-position,import-error
from sshfleet import SshFleet, Unavailable, terminate_cleans_up  # noqa: E402  pylint: disable=wrong-import-position,import-error


@pytest.fixture(scope='module')
def ssh_fleet_hosts():
    """The simulated hosts (tests/sim/inventory.yml) to run as SSH devices; override per module."""
    return ['edge-01', 'edge-09', 'edge-13', 'edge-19']


@pytest.fixture(scope='module')
def ssh_fleet(ssh_fleet_hosts):
    """Devices behind real sshd instances, torn down afterwards (also on failure, Ctrl-C, SIGTERM)."""
    with terminate_cleans_up():
        try:
            ssh = SshFleet.start(ssh_fleet_hosts, nvidia_root=NVIDIA_ROOT if os.path.exists(MPS_CONTROL) else None)
        except Unavailable as exc:
            pytest.skip('no SSH fleet on this machine: %s' % exc)
        try:
            yield ssh
        finally:
            ssh.close()


@pytest.fixture
def ssh_playbook(ssh_fleet, playbook, monkeypatch):
    """``playbook`` of tests/integration/conftest.py, on the SSH fleet's inventory."""
    for name, value in ssh_fleet.env.items():
        monkeypatch.setenv(name, value)

    def run(name, **kwargs):
        return playbook(name, inventory=ssh_fleet.inventory, **kwargs)
    return run
