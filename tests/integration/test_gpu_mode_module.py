# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""gpu_mode through ansible-playbook on simulated devices."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

EXCLUSIVE_PROCESS = 3


def gpus_of(sim_root, host):
    with open(os.path.join(sim_root, host, 'nvml.json')) as handle:
        return json.load(handle)['gpus']


def test_set_then_not_changed_with_diff(fleet_hosts, playbook, sim_root):
    args = {'target': 'edge-01', 'module_args': {'compute_mode': 'exclusive_process', 'persistence_mode': True}}
    first = playbook('gpu_mode_module.yml', extra_vars=args, args=['--diff'])
    assert first.rc == 0, first.output
    result = first.result('edge-01')
    assert result['changed'] is True
    assert list(result['diff']['after'].values()) == [{'compute_mode': 'exclusive_process', 'persistence_mode': True}]
    assert '+        "compute_mode": "exclusive_process"' in first.output
    assert gpus_of(sim_root, 'edge-01')[0]['compute_mode'] == EXCLUSIVE_PROCESS
    second = playbook('gpu_mode_module.yml', extra_vars=args)
    assert second.result('edge-01')['changed'] is False
    assert second.recap()['edge-01']['changed'] == 0


def test_check_mode_leaves_the_device_alone(fleet_hosts, playbook, sim_root):
    before = gpus_of(sim_root, 'edge-02')
    run = playbook('gpu_mode_module.yml', extra_vars={'target': 'edge-02', 'module_args': {'compute_mode': 'prohibited'}},
                   check=True)
    assert run.result('edge-02')['changed'] is True
    assert gpus_of(sim_root, 'edge-02') == before


def test_nvml_without_root_rights_is_a_clear_error(fleet_hosts, playbook, sim_root):
    path = os.path.join(sim_root, 'edge-03', 'nvml.json')
    with open(path) as handle:
        device = json.load(handle)
    device['deny_changes'] = True
    with open(path, 'w') as handle:
        json.dump(device, handle)
    run = playbook('gpu_mode_module.yml',
                   extra_vars={'target': 'edge-03', 'module_args': {'compute_mode': 'prohibited'}, 'expect_failure': True})
    result = run.result('edge-03')
    assert result['failed'] is True and result['error_kind'] == 'no_permission'
    assert 'become: true' in result['msg']
    assert gpus_of(sim_root, 'edge-03') == device['gpus']


def test_busy_gpu_names_its_processes(fleet_hosts, playbook, sim_root):
    before = gpus_of(sim_root, 'edge-09')
    run = playbook('gpu_mode_module.yml',
                   extra_vars={'target': 'edge-09', 'module_args': {'compute_mode': 'exclusive_process'}, 'expect_failure': True})
    assert 'pid 2301 (python3)' in run.result('edge-09')['msg']
    assert gpus_of(sim_root, 'edge-09') == before
