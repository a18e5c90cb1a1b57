# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The mps module through ansible-playbook, driving NVIDIA's real nvidia-cuda-mps-control."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import stat
import subprocess
import time

import pytest

from harness import MPS_CONTROL, mps_daemons_under, mps_query, require_nvidia_userland  # pylint: disable=import-error
from fleet import load_device  # pylint: disable=import-error

HOST = 'edge-13'
GPU1 = load_device('t4_dual')['gpus'][1]['uuid']


@pytest.fixture(autouse=True)
def userland():
    require_nvidia_userland()


@pytest.fixture
def dirs(sim_root, fleet_hosts):
    base = os.path.join(sim_root, HOST, 'mps')
    return {'pipe_directory': os.path.join(base, 'pipe'), 'log_directory': os.path.join(base, 'log')}


@pytest.fixture
def mps(playbook, dirs):
    """Run the mps module on HOST with ``args`` (plus the host's directories); return its result."""
    def run(args=None, check=False, expect_failure=False, host=HOST):
        module_args = dict(dirs, **(args or {}))
        run = playbook('mps_module.yml', extra_vars={'target': host, 'module_args': module_args,
                                                     'expect_failure': expect_failure}, args=['--diff'], check=check)
        assert run.rc == 0, run.output
        return run.result(host)
    return run


def state_bytes(sim_root, host=HOST):
    with open(os.path.join(sim_root, host, 'nvml.json'), 'rb') as handle:
        return handle.read()


ENABLE = {'gpus': [1], 'default_active_thread_percentage': 20, 'default_pinned_device_mem_limit': {'0': '2G'}}


def test_enable_again_change_disable_again(mps, dirs, sim_root):
    pipe = dirs['pipe_directory']
    first = mps(ENABLE)
    assert first['changed'] is True and first['running'] is True
    assert mps_daemons_under(pipe) == [first['pid']]
    assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '20.0')
    assert mps_query(pipe, 'get_default_device_pinned_mem_limit 0') == (0, '2G')
    with open('/proc/%d/environ' % first['pid'], 'rb') as handle:
        assert ('CUDA_VISIBLE_DEVICES=%s' % GPU1).encode() in handle.read().split(b'\0')

    again = mps(ENABLE)
    assert again['changed'] is False and again['pid'] == first['pid']

    changed = mps(dict(ENABLE, default_active_thread_percentage=30))
    assert changed['changed'] is True
    before, after = changed['diff']['before'], changed['diff']['after']
    assert [key for key in sorted(before) if before[key] != after[key]] == ['default_active_thread_percentage']
    assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '30.0')

    stopped = mps({'state': 'stopped'})
    assert stopped['changed'] is True and stopped['running'] is False
    assert mps_daemons_under(pipe) == []
    assert mps_query(pipe, 'get_server_list')[0] == 1

    assert mps({'state': 'stopped'})['changed'] is False


def test_check_mode_changes_nothing_yet_predicts(mps, dirs, sim_root):
    pipe = dirs['pipe_directory']
    gpu_state = state_bytes(sim_root)
    predicted = mps(ENABLE, check=True)
    assert predicted['changed'] is True and predicted['running'] is True
    assert mps_daemons_under(pipe) == [] and not os.path.exists(pipe)

    mps(ENABLE)
    predicted = mps(dict(ENABLE, default_active_thread_percentage=70), check=True)
    assert predicted['changed'] is True and predicted['default_active_thread_percentage'] == 70.0
    assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '20.0')
    assert mps(ENABLE, check=True)['changed'] is False

    predicted = mps({'state': 'stopped'}, check=True)
    assert predicted['changed'] is True and len(mps_daemons_under(pipe)) == 1
    assert state_bytes(sim_root) == gpu_state


@pytest.mark.parametrize('args, words', [
    ({'default_active_thread_percentage': 0}, 'got 0'),
    ({'default_active_thread_percentage': 101}, 'got 101'),
    ({'default_active_thread_percentage': '20%'}, "got '20%'"),
    ({'gpus': [5]}, 'no GPU matches 5'),
    ({'default_pinned_device_mem_limit': {'0': '2X'}}, "'2X' is not a memory size"),
])
def test_bad_input_is_rejected_before_any_change(mps, dirs, sim_root, args, words):
    gpu_state = state_bytes(sim_root)
    result = mps(dict(ENABLE, **args), expect_failure=True)
    assert result['failed'] is True and words in result['msg']
    assert mps_daemons_under(dirs['pipe_directory']) == []
    assert not os.path.exists(dirs['pipe_directory'])
    assert state_bytes(sim_root) == gpu_state


def test_mig_enabled_gpu_is_rejected(mps, sim_root):
    result = mps({'gpus': [0]}, expect_failure=True, host='edge-19')
    assert result['failed'] is True and 'MIG-enabled' in result['msg']
    assert mps_daemons_under(sim_root) == []


def test_unwritable_pipe_directory_is_rejected(mps, dirs, sim_root):
    blocker = os.path.join(sim_root, HOST, 'not-a-directory')
    with open(blocker, 'w'):
        pass
    result = mps({'pipe_directory': os.path.join(blocker, 'pipe')}, expect_failure=True)
    assert result['failed'] is True and 'cannot be created' in result['msg']
    assert mps_daemons_under(sim_root) == []


def test_world_writable_pipe_directory_is_rejected(mps, dirs):
    os.makedirs(dirs['pipe_directory'])
    os.chmod(dirs['pipe_directory'], 0o777)
    result = mps({}, expect_failure=True)
    assert 'writable by group or others' in result['msg']
    assert stat.S_IMODE(os.stat(dirs['pipe_directory']).st_mode) == 0o777


def test_missing_binary(mps, dirs, sim_root):
    result = mps({'control_binary': os.path.join(sim_root, 'no', 'nvidia-cuda-mps-control')}, expect_failure=True)
    assert result['failed'] is True and 'not found' in result['msg']


def test_daemon_killed_between_runs_is_restarted(mps, dirs):
    first = mps(ENABLE)
    os.kill(first['pid'], signal.SIGKILL)
    assert mps_daemons_under(dirs['pipe_directory']) in ([], [first['pid']])
    # The killed daemon leaves its socket and lock files behind: stale, not a running daemon.
    assert os.path.exists(os.path.join(dirs['pipe_directory'], 'control_lock'))
    second = mps(ENABLE)
    assert second['changed'] is True and second['running'] is True and second['pid'] != first['pid']
    assert mps_query(dirs['pipe_directory'], 'get_default_active_thread_percentage') == (0, '20.0')


STAND_IN_FAILS = '''#!/bin/sh
# Stands in for a control daemon that cannot start (the real one starts even without a GPU).
echo "[$(date)] Control: failed to initialize the control daemon: out of resources" >> "$CUDA_MPS_LOG_DIRECTORY/control.log"
echo "failed to start" >&2
exit 1
'''

STAND_IN_HANGS = '''#!/bin/sh
# Stands in for a daemon that accepts a connection and never answers.
exec sleep 600
'''


@pytest.mark.parametrize('script, words', [(STAND_IN_FAILS, 'out of resources'), (STAND_IN_HANGS, 'did not answer')])
def test_daemon_that_fails_or_hangs(mps, dirs, sim_root, script, words):
    binary = os.path.join(sim_root, 'stand-in-mps-control')
    with open(binary, 'w') as handle:
        handle.write(script)
    os.chmod(binary, 0o755)
    result = mps({'control_binary': binary, 'timeout': 2}, expect_failure=True)
    assert result['failed'] is True and words in result['msg']
    assert mps_daemons_under(sim_root) == []


def owner_starts(dirs):
    """Start NVIDIA's daemon the way its systemd unit would: outside the module, with no defaults set."""
    for path in dirs.values():
        os.makedirs(path, mode=0o755)
    env = dict(os.environ, CUDA_MPS_PIPE_DIRECTORY=dirs['pipe_directory'], CUDA_MPS_LOG_DIRECTORY=dirs['log_directory'])
    subprocess.run([MPS_CONTROL, '-d'], env=env, check=True, timeout=10)
    for _attempt in range(100):
        if mps_query(dirs['pipe_directory'], 'get_server_list')[0] == 0:
            break
        time.sleep(0.1)
    pids = mps_daemons_under(dirs['pipe_directory'])
    assert len(pids) == 1, pids
    return pids[0]


def test_configured_sets_defaults_on_a_daemon_it_did_not_start(mps, dirs):
    pid = owner_starts(dirs)
    pipe = dirs['pipe_directory']
    wanted = {'state': 'configured', 'default_active_thread_percentage': 25, 'default_client_priority': 1}
    first = mps(wanted)
    assert first['changed'] is True and first['pid'] == pid
    before, after = first['diff']['before'], first['diff']['after']
    assert [key for key in sorted(before) if before[key] != after[key]] == [
        'default_active_thread_percentage', 'default_client_priority']
    assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '25.0')
    assert mps_query(pipe, 'get_default_client_priority') == (0, '1')

    again = mps(wanted)
    assert again['changed'] is False and again['pid'] == pid

    predicted = mps(dict(wanted, default_active_thread_percentage=40), check=True)
    assert predicted['changed'] is True and predicted['default_active_thread_percentage'] == 40.0
    assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '25.0')
    assert mps_daemons_under(pipe) == [pid]


def test_configured_without_a_daemon_fails_and_starts_nothing(mps, dirs, sim_root):
    result = mps({'state': 'configured', 'default_active_thread_percentage': 25}, expect_failure=True)
    assert result['failed'] is True and result['error_kind'] == 'mps'
    assert 'no MPS control daemon serves %s' % dirs['pipe_directory'] in result['msg']
    assert mps_daemons_under(sim_root) == [] and not os.path.exists(dirs['pipe_directory'])
