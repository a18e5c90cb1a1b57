# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The mps role over the simulated fleet, with NVIDIA's real control daemon on every device."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from harness import mps_daemons_under, mps_query, require_nvidia_userland  # pylint: disable=import-error

# Devices with a GPU and a loaded driver; the inventory turns MPS on for the t4_dual group.
CONVERGE = {'target_hosts': 'all:!no_nvml'}
EXCLUSIVE_PROCESS, DEFAULT = 3, 0


@pytest.fixture(autouse=True)
def userland():
    require_nvidia_userland()


def pipe_of(sim_root, host):
    return os.path.join(sim_root, host, 'mps', 'pipe')


def gpu_state(sim_root, host):
    with open(os.path.join(sim_root, host, 'nvml.json')) as handle:
        return json.load(handle)['gpus']


def daemon_hosts(sim_root, hosts):
    return sorted(host for host in hosts if mps_daemons_under(pipe_of(sim_root, host)))


def test_mixed_fleet_converges_and_a_second_run_changes_nothing(fleet_hosts, playbook, sim_root):
    mps_hosts = sorted(host for host, device in fleet_hosts.items() if device == 't4_dual')
    first = playbook('edge_gpu.sharing.mps', extra_vars=CONVERGE)
    assert first.rc == 0, first.output
    recap = first.recap()
    assert all(recap[host]['changed'] > 0 for host in mps_hosts), recap
    assert all(recap[host]['changed'] == 0 for host in recap if host not in mps_hosts), recap
    assert daemon_hosts(sim_root, fleet_hosts) == mps_hosts
    for host in mps_hosts:
        assert mps_query(pipe_of(sim_root, host), 'get_default_active_thread_percentage') == (0, '50.0')
        assert mps_query(pipe_of(sim_root, host), 'get_default_device_pinned_mem_limit 0') == (0, '4G')
        assert [gpu['compute_mode'] for gpu in gpu_state(sim_root, host)] == [DEFAULT, EXCLUSIVE_PROCESS]

    second = playbook('edge_gpu.sharing.mps', extra_vars=CONVERGE)
    assert second.rc == 0, second.output
    assert all(counts['changed'] == 0 for counts in second.recap().values()), second.recap()


def test_check_mode_predicts_and_changes_nothing(fleet_hosts, playbook, sim_root):
    states = dict((host, gpu_state(sim_root, host)) for host in fleet_hosts if host not in ('edge-22', 'edge-23'))
    run = playbook('edge_gpu.sharing.mps', extra_vars=CONVERGE, check=True)
    assert run.rc == 0, run.output
    assert run.recap()['edge-13']['changed'] > 0
    assert daemon_hosts(sim_root, fleet_hosts) == []
    assert dict((host, gpu_state(sim_root, host)) for host in states) == states


def test_enable_then_disable_one_device(fleet_hosts, playbook, sim_root):
    enable = playbook('edge_gpu.sharing.mps_enable', extra_vars={'target_hosts': 'edge-01', 'mps_default_active_thread_percentage': 25})
    assert enable.rc == 0, enable.output
    assert enable.recap()['edge-01']['changed'] > 0
    assert gpu_state(sim_root, 'edge-01')[0]['compute_mode'] == EXCLUSIVE_PROCESS
    assert gpu_state(sim_root, 'edge-01')[0]['persistence_mode'] == 1
    assert mps_query(pipe_of(sim_root, 'edge-01'), 'get_default_active_thread_percentage') == (0, '25.0')

    disable = playbook('edge_gpu.sharing.mps_disable', extra_vars={'target_hosts': 'edge-01'})
    assert disable.rc == 0, disable.output
    assert disable.recap()['edge-01']['changed'] > 0
    assert daemon_hosts(sim_root, ['edge-01']) == []
    assert gpu_state(sim_root, 'edge-01')[0]['compute_mode'] == DEFAULT
    again = playbook('edge_gpu.sharing.mps_disable', extra_vars={'target_hosts': 'edge-01'})
    assert again.rc == 0, again.output
    assert again.recap()['edge-01']['changed'] == 0


def test_disable_while_clients_run_is_refused_and_changes_nothing(fleet_hosts, playbook, sim_root):
    # edge-13's GPU 1 runs an MPS server and two clients (tests/sim/devices/t4_dual.json).
    playbook('edge_gpu.sharing.mps', extra_vars={'target_hosts': 'edge-13'})
    before = gpu_state(sim_root, 'edge-13')
    disable = playbook('edge_gpu.sharing.mps_disable', extra_vars={'target_hosts': 'edge-13'})
    assert disable.rc != 0
    assert 'pid 3201 (/usr/bin/python3)' in disable.output and 'force: true' in disable.output
    assert disable.recap()['edge-13']['changed'] == 0
    assert daemon_hosts(sim_root, ['edge-13']) == ['edge-13']
    assert gpu_state(sim_root, 'edge-13') == before

    forced = playbook('edge_gpu.sharing.mps_disable', extra_vars={'target_hosts': 'edge-13', 'mps_force': True})
    assert forced.rc == 0, forced.output
    assert daemon_hosts(sim_root, ['edge-13']) == []
    assert [gpu['compute_mode'] for gpu in gpu_state(sim_root, 'edge-13')] == [DEFAULT, DEFAULT]


def test_daemon_killed_between_runs_is_restarted_by_the_role(fleet_hosts, playbook, sim_root):
    playbook('edge_gpu.sharing.mps', extra_vars={'target_hosts': 'edge-14'})
    for pid in mps_daemons_under(pipe_of(sim_root, 'edge-14')):
        os.kill(pid, 9)
    run = playbook('edge_gpu.sharing.mps', extra_vars={'target_hosts': 'edge-14'})
    assert run.rc == 0, run.output
    assert run.recap()['edge-14']['changed'] == 1
    assert mps_query(pipe_of(sim_root, 'edge-14'), 'get_default_active_thread_percentage') == (0, '50.0')


@pytest.mark.parametrize('extra, words', [
    ({'mps_default_active_thread_percentage': 0}, 'got 0'),
    ({'mps_default_active_thread_percentage': '20%'}, "got '20%'"),
    ({'mps_default_pinned_device_mem_limit': {0: '2X'}}, "'2X' is not a memory size"),
    ({'mps_gpus': [4]}, 'no GPU matches 4'),
    # Without systemd only root can run the daemon (the fleet has none).
    ({'mps_user': 'nobody'}, 'mps_user is "nobody", but edge-02 has no systemd'),
])
def test_bad_settings_fail_the_host_before_any_change(fleet_hosts, playbook, sim_root, extra, words):
    before = gpu_state(sim_root, 'edge-02')
    run = playbook('edge_gpu.sharing.mps_enable', extra_vars=dict(extra, target_hosts='edge-02'))
    assert run.rc != 0
    assert words in run.output
    assert run.recap()['edge-02']['failed'] == 1 and run.recap()['edge-02']['changed'] == 0
    assert gpu_state(sim_root, 'edge-02') == before
    assert not os.path.exists(pipe_of(sim_root, 'edge-02'))


def test_busy_device_is_refused_naming_the_processes(fleet_hosts, playbook, sim_root):
    before = gpu_state(sim_root, 'edge-09')
    run = playbook('edge_gpu.sharing.mps_enable', extra_vars={'target_hosts': 'edge-09'})
    assert run.rc != 0 and 'pid 2301 (python3)' in run.output
    assert gpu_state(sim_root, 'edge-09') == before


def test_phases_are_tagged_like_every_role(playbook):
    run = playbook('edge_gpu.sharing.mps', args=['--list-tags'])
    assert run.rc == 0, run.output
    for tag in ('mps', 'mps_preflight', 'mps_configure', 'mps_verify'):
        assert tag in run.output
