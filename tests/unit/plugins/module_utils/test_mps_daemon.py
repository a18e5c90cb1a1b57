# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The MPS daemon's plan is pure: current state and request in, action and desired state out."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import mps_daemon, nvml
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption, MpsError

PIPE, LOGS = '/run/mps/pipe', '/var/log/mps'
GPU_A, GPU_B = 'GPU-a', 'GPU-b'


def request(state='started', **wanted):
    return {'state': state, 'pipe_directory': PIPE, 'log_directory': LOGS, 'wanted': wanted,
            'selectors': None, 'force': False}


def running(visible=None, log_directory=LOGS, percentage=100.0, limits=None):
    return mps_daemon.snapshot(True, 4242, [], visible, log_directory, {
        'default_active_thread_percentage': percentage, 'default_client_priority': 0,
        'default_pinned_device_mem_limit': limits if limits is not None else {0: None}})


STOPPED = mps_daemon.not_running(LOGS)


def test_nothing_to_do_is_not_changed():
    plan = mps_daemon.plan(running(), request(default_active_thread_percentage=100.0), None, [0])
    assert plan.action is None and plan.todo == {}
    assert not mps_daemon.difference(running(), plan.desired).changed


def test_start_predicts_a_fresh_daemon_with_the_defaults():
    plan = mps_daemon.plan(STOPPED, request(default_pinned_device_mem_limit={0: '2G'}), [GPU_A], [0])
    assert plan.action == 'start' and plan.todo == {'default_pinned_device_mem_limit': {0: '2G'}}
    assert plan.desired['running'] and plan.desired['pid'] is None and plan.desired['visible_devices'] == GPU_A
    assert mps_daemon.difference(STOPPED, plan.desired).differences == [
        'running', 'visible_devices', 'default_pinned_device_mem_limit']


@pytest.mark.parametrize('current, visible', [
    (running(visible=GPU_A), [GPU_A, GPU_B]),
    (running(log_directory='/elsewhere'), None),
])
def test_other_gpus_or_log_directory_restart(current, visible):
    plan = mps_daemon.plan(current, request(), visible, [0])
    assert plan.action == 'restart' and plan.base['default_active_thread_percentage'] == 100.0


def test_all_gpus_keeps_a_daemon_serving_some():
    assert mps_daemon.plan(running(visible=GPU_A), request(), None, [0]).action is None


def test_only_the_limits_that_differ_are_set():
    current = running(limits={0: '2G', 1: None})
    plan = mps_daemon.plan(current, request(default_pinned_device_mem_limit={0: '2G', 1: '1G'}), None, [0, 1])
    assert plan.todo == {'default_pinned_device_mem_limit': {1: '1G'}}
    assert plan.desired['default_pinned_device_mem_limit'] == {0: '2G', 1: '1G'}


def test_stop():
    assert mps_daemon.plan(STOPPED, request('stopped'), None, []).action is None
    plan = mps_daemon.plan(running(), request('stopped'), None, [0])
    assert plan.action == 'stop' and not plan.desired['running'] and plan.desired['pid'] is None


def test_configured_only_sets_defaults():
    plan = mps_daemon.plan(running(log_directory='/owner'), request('configured', default_client_priority=1),
                           None, [0])
    assert plan.action is None and plan.todo == {'default_client_priority': 1}
    assert plan.desired['log_directory'] == '/owner'


def test_configured_refuses_to_start_or_restart():
    with pytest.raises(MpsError) as info:
        mps_daemon.plan(STOPPED, request('configured'), None, [])
    assert 'no MPS control daemon serves %s' % PIPE in str(info.value) and info.value.kind == 'mps'
    with pytest.raises(MpsError) as info:
        mps_daemon.plan(running(), request('configured'), [GPU_B], [0])
    assert 'serves every GPU, not GPU-b' in str(info.value)


def test_pinned_limit_beyond_the_gpus_served_is_an_invalid_option():
    assert mps_daemon.device_ordinals({'default_pinned_device_mem_limit': {3: '1G'}}, None) == [3]
    assert mps_daemon.device_ordinals({}, [GPU_A, GPU_B]) == [0, 1]
    with pytest.raises(InvalidOption) as info:
        mps_daemon.device_ordinals({'default_pinned_device_mem_limit': {2: '1G'}}, [GPU_A, GPU_B])
    assert 'device ordinal(s) 2 out of range' in str(info.value)


def test_pinned_limit_beyond_every_gpu_is_refused_when_the_daemon_serves_them_all():
    # No GPUs selected: the daemon serves all of the device's (here 2), so ordinal 2 is none of them.
    assert mps_daemon.device_ordinals({'default_pinned_device_mem_limit': {1: '1G'}}, None, 2) == [1]
    with pytest.raises(InvalidOption) as info:
        mps_daemon.device_ordinals({'default_pinned_device_mem_limit': {7: '1G'}}, None, 2)
    assert 'default_pinned_device_mem_limit: device ordinal(s) 7 out of range: the daemon serves 2 GPU(s)' in str(info.value)


def test_public_state_has_string_ordinals():
    assert mps_daemon.public(running(limits={1: '1G', 0: None}))['default_pinned_device_mem_limit'] == {
        '0': None, '1': '1G'}


def test_gpu_count_without_a_usable_nvml_is_unknown_not_a_failure(monkeypatch):
    # The mps module needs pynvml only when gpus is given: a limit for every GPU must not.
    monkeypatch.setattr(nvml, 'pynvml', None)
    assert mps_daemon.gpu_count() is None

    def unavailable():
        raise nvml.NvmlError('driver_not_loaded', 'NVML: driver not loaded')
    monkeypatch.setattr(nvml, 'pynvml', object())
    monkeypatch.setattr(nvml, 'nvml_session', unavailable)
    assert mps_daemon.gpu_count() is None
