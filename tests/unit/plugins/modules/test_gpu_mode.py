# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import nvml
from ansible_collections.edge_gpu.sharing.plugins.modules import gpu_mode

EXCLUSIVE = 3
DEFAULT = 0


def modes(device):
    return [(gpu['compute_mode'], gpu['persistence_mode']) for gpu in device.read()['gpus']]


def test_sets_compute_and_persistence_mode_on_every_gpu(fake_device, run_module):
    fake_device.use('t4_single', deny_changes=False)
    data = fake_device.read()
    data['gpus'][0]['persistence_mode'] = 0
    fake_device.write(data)
    failed, result = run_module(gpu_mode, {'compute_mode': 'exclusive_process', 'persistence_mode': True, '_ansible_diff': True})
    assert not failed and result['changed'] is True
    assert modes(fake_device) == [(EXCLUSIVE, 1)]
    assert result['gpus'][0]['compute_mode'] == 'exclusive_process' and result['gpus'][0]['persistence_mode'] is True
    label = 'GPU 0 (%s)' % data['gpus'][0]['uuid']
    assert result['diff'] == {'before': {label: {'compute_mode': 'default', 'persistence_mode': False}},
                              'after': {label: {'compute_mode': 'exclusive_process', 'persistence_mode': True}}}


def test_second_run_changes_nothing(fake_device, run_module):
    fake_device.use('t4_dual')
    run_module(gpu_mode, {'compute_mode': 'exclusive_process', 'gpus': [0]})
    before = fake_device.read()
    failed, result = run_module(gpu_mode, {'compute_mode': 'exclusive_process', 'gpus': [0], '_ansible_diff': True})
    assert not failed and result['changed'] is False
    assert result['diff'] == {'before': {}, 'after': {}}
    assert fake_device.read() == before


def test_check_mode_predicts_and_changes_nothing(fake_device, run_module):
    fake_device.use('t4_dual')
    before = fake_device.read()
    failed, result = run_module(gpu_mode, {'compute_mode': 'prohibited', 'gpus': [0]}, check_mode=True)
    assert not failed and result['changed'] is True
    assert result['gpus'][0]['compute_mode'] == 'prohibited'
    assert fake_device.read() == before


def test_only_the_selected_gpu_changes(fake_device, run_module, device_data):
    fake_device.use('t4_dual')
    uuid = device_data('t4_dual')['gpus'][0]['uuid']
    failed, result = run_module(gpu_mode, {'compute_mode': 'prohibited', 'gpus': uuid})
    assert not failed
    assert [gpu['index'] for gpu in result['gpus']] == [0]
    assert modes(fake_device) == [(2, 1), (EXCLUSIVE, 1)]


def test_busy_gpu_is_refused_naming_the_processes(fake_device, run_module):
    fake_device.use('t4_single_busy')
    before = fake_device.read()
    failed, result = run_module(gpu_mode, {'compute_mode': 'exclusive_process'})
    assert failed
    assert 'pid 2301 (python3), pid 2417 (/opt/app/detector)' in result['msg']
    assert 'force: true' in result['msg']
    assert fake_device.read() == before


def test_force_changes_a_busy_gpu(fake_device, run_module):
    fake_device.use('t4_single_busy')
    failed, result = run_module(gpu_mode, {'compute_mode': 'exclusive_process', 'force': True})
    assert not failed and result['changed']
    assert modes(fake_device) == [(EXCLUSIVE, 1)]


def test_persistence_alone_is_allowed_on_a_busy_gpu(fake_device, run_module, device_data):
    data = device_data('t4_single_busy')
    data['gpus'][0]['persistence_mode'] = 0
    fake_device.write(data)
    failed, result = run_module(gpu_mode, {'persistence_mode': True})
    assert not failed and result['changed']


def test_mig_gpu_under_all_is_skipped_and_reported(fake_device, run_module, monkeypatch):
    fake_device.use('a100_mig')
    before = fake_device.read()
    warnings = []
    monkeypatch.setattr(gpu_mode.AnsibleModule, 'warn', lambda self, text: warnings.append(text))
    failed, result = run_module(gpu_mode, {'compute_mode': 'exclusive_process'})
    assert not failed and result['changed'] is False
    assert result['skipped_gpus'][0]['index'] == 0
    assert 'MIG is enabled' in result['skipped_gpus'][0]['reason']
    assert len(warnings) == 1 and 'MIG is enabled' in warnings[0]
    assert fake_device.read() == before


def test_mig_gpu_named_explicitly_fails(fake_device, run_module):
    fake_device.use('a100_mig')
    failed, result = run_module(gpu_mode, {'compute_mode': 'exclusive_process', 'gpus': [0]})
    assert failed and 'MIG is enabled' in result['msg']


@pytest.mark.parametrize('gpus, words', [
    ([5], 'no GPU matches 5'),
    (['GPU-nope'], "'GPU-nope' is neither"),
    ('all-of-them', "'all-of-them' is neither"),
])
def test_bad_gpu_selection_fails_naming_it(fake_device, run_module, gpus, words):
    fake_device.use('t4_dual')
    before = fake_device.read()
    failed, result = run_module(gpu_mode, {'compute_mode': 'default', 'gpus': gpus})
    assert failed and words in result['msg']
    assert fake_device.read() == before


def test_unknown_compute_mode_is_named(fake_device, run_module):
    fake_device.use('t4_dual')
    failed, result = run_module(gpu_mode, {'compute_mode': 'exclusive_thread'})
    assert failed and 'exclusive_thread' in result['msg']


def test_not_root_is_a_clear_error(fake_device, run_module, monkeypatch):
    fake_device.use('t4_dual')
    monkeypatch.setattr(gpu_mode.os, 'geteuid', lambda: 1000)
    failed, result = run_module(gpu_mode, {'compute_mode': 'prohibited', 'gpus': [0]})
    assert failed and 'needs root' in result['msg'] and 'become: true' in result['msg']
    # ...but reading and predicting is fine without root.
    failed, result = run_module(gpu_mode, {'compute_mode': 'prohibited', 'gpus': [0]}, check_mode=True)
    assert not failed and result['changed']


def test_nvml_refusing_permission_is_a_clear_error(fake_device, run_module):
    fake_device.use('t4_dual', deny_changes=True)
    before = fake_device.read()
    failed, result = run_module(gpu_mode, {'compute_mode': 'prohibited', 'gpus': [0]})
    assert failed and result['error_kind'] == 'no_permission' and 'root' in result['msg']
    assert fake_device.read() == before


def test_failure_on_the_second_gpu_undoes_the_first(fake_device, run_module, device_data):
    data = device_data('t4_dual')
    data['gpus'][1]['compute_mode'] = DEFAULT
    data['gpus'][1]['compute_processes'] = data['gpus'][1]['mps_processes'] = []
    data['gpus'][1]['errors'] = {'nvmlDeviceSetComputeMode': 'NVML_ERROR_GPU_IS_LOST'}
    fake_device.write(data)
    before = fake_device.read()
    failed, result = run_module(gpu_mode, {'compute_mode': 'prohibited'})
    assert failed
    assert 'GPU 1' in result['msg'] and 'undone' in result['msg']
    assert fake_device.read() == before


def test_failed_undo_is_reported(fake_device, run_module, device_data, monkeypatch):
    data = device_data('t4_dual')
    data['gpus'][1]['compute_mode'] = DEFAULT
    data['gpus'][1]['compute_processes'] = data['gpus'][1]['mps_processes'] = []
    fake_device.write(data)
    calls = []
    real_set = fake_device.lib.nvmlDeviceSetComputeMode

    def flaky(handle, mode):
        calls.append(handle.index)
        if len(calls) > 1:
            raise fake_device.lib.NVMLError(fake_device.lib.NVML_ERROR_GPU_IS_LOST)
        real_set(handle, mode)
    monkeypatch.setattr(fake_device.lib, 'nvmlDeviceSetComputeMode', flaky)
    failed, result = run_module(gpu_mode, {'compute_mode': 'prohibited'})
    assert failed and 'undoing the changes already made also failed' in result['msg']


def test_unsupported_modes_are_refused(fake_device, run_module, device_data):
    data = device_data('t4_single')
    data['gpus'][0]['compute_mode'] = None
    data['gpus'][0]['persistence_mode'] = None
    fake_device.write(data)
    failed, result = run_module(gpu_mode, {'compute_mode': 'prohibited', 'persistence_mode': True})
    assert failed
    assert 'does not support setting a compute mode' in result['msg']
    assert 'does not support persistence mode' in result['msg']


def test_driver_not_loaded(fake_device, run_module):
    fake_device.use('driver_not_loaded')
    failed, result = run_module(gpu_mode, {'compute_mode': 'default'})
    assert failed and result['error_kind'] == 'driver_not_loaded'


def test_missing_pynvml(run_module, monkeypatch):
    monkeypatch.setattr(nvml, 'pynvml', None)
    failed, result = run_module(gpu_mode, {'compute_mode': 'default'})
    assert failed and 'nvidia-ml-py' in result['msg']
