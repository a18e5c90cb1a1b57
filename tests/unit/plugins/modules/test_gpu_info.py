# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import nvml
from ansible_collections.edge_gpu.sharing.plugins.modules import gpu_info

T4_DUAL_UUIDS = ['GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6', 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7']


@pytest.fixture
def pipe_dir(tmp_path):
    return str(tmp_path / 'mps-pipe')


def test_reports_every_gpu_without_changing_anything(fake_device, run_module, pipe_dir):
    fake_device.use('t4_dual')
    before = fake_device.read()
    failed, result = run_module(gpu_info, {'mps_pipe_directory': pipe_dir})
    assert not failed
    assert result['changed'] is False
    info = result['gpu_info']
    assert info['available'] is True
    assert info['unavailable_reason'] is None
    assert info['driver_version'] == '535.261.03'
    assert info['cuda_driver_version'] == '12.2'
    assert info['nvml_version'] == '12.535.261.03'
    assert info['gpu_count'] == 2
    assert [gpu['uuid'] for gpu in info['gpus']] == T4_DUAL_UUIDS
    assert [len(gpu['processes']) for gpu in info['gpus']] == [0, 3]
    assert info['mps_daemon'] == {'pipe_directory': pipe_dir, 'running': False, 'pid': None, 'error': None}
    assert 'ansible_facts' not in result
    assert fake_device.read() == before
    assert fake_device.initialised == 0


def test_check_mode_gives_the_same_answer(fake_device, run_module, pipe_dir):
    fake_device.use('t4_dual')
    _failed, normal = run_module(gpu_info, {'mps_pipe_directory': pipe_dir})
    failed, checked = run_module(gpu_info, {'mps_pipe_directory': pipe_dir}, check_mode=True)
    assert not failed
    assert checked['changed'] is False
    assert checked['gpu_info'] == normal['gpu_info']


def test_facts_are_published_on_request(fake_device, run_module, pipe_dir):
    fake_device.use('t4_single')
    _failed, result = run_module(gpu_info, {'facts': True, 'mps_pipe_directory': pipe_dir})
    assert result['ansible_facts'] == {'edge_gpu_info': result['gpu_info']}


@pytest.mark.parametrize('selector', [1, '1', T4_DUAL_UUIDS[1], T4_DUAL_UUIDS[1].upper().replace('GPU-', 'GPU-')])
def test_select_by_index_or_uuid(fake_device, run_module, selector):
    fake_device.use('t4_dual')
    _failed, result = run_module(gpu_info, {'gpus': [selector]})
    assert [gpu['index'] for gpu in result['gpu_info']['gpus']] == [1]
    assert result['gpu_info']['gpu_count'] == 2


def test_processes_can_be_skipped(fake_device, run_module):
    fake_device.use('t4_dual')
    _failed, result = run_module(gpu_info, {'processes': False})
    assert all('processes' not in gpu for gpu in result['gpu_info']['gpus'])


@pytest.mark.parametrize('selector', [7, 'GPU-ffffffff-ffff-ffff-ffff-ffffffffffff'])
def test_selector_matching_no_gpu_fails_naming_it(fake_device, run_module, selector):
    fake_device.use('t4_dual')
    failed, result = run_module(gpu_info, {'gpus': [0, selector]})
    assert failed
    assert result['msg'].startswith('gpus: no GPU matches %s;' % selector)
    assert fake_device.initialised == 0


@pytest.mark.parametrize('selector', ['GPU-12', 'first', 0.5, True])
def test_malformed_selector_fails_before_nvml_is_touched(fake_device, run_module, selector):
    fake_device.use('driver_not_loaded')
    failed, result = run_module(gpu_info, {'gpus': [selector]})
    assert failed
    assert repr(selector) in result['msg']
    assert 'Driver' not in result['msg']


def test_unknown_option_value_is_named(fake_device, run_module):
    fake_device.use('t4_single')
    failed, result = run_module(gpu_info, {'missing': 'ignore'})
    assert failed
    assert 'ignore' in result['msg'] and 'missing' in result['msg']


@pytest.mark.parametrize('device, words', [
    ('driver_not_loaded', 'kernel driver is not loaded'),
    ('no_gpu', 'libnvidia-ml.so.1'),
])
def test_host_without_nvml_fails_clearly_by_default(fake_device, run_module, device, words):
    fake_device.use(device)
    failed, result = run_module(gpu_info, {})
    assert failed
    assert words in result['msg']


@pytest.mark.parametrize('device', ['driver_not_loaded', 'no_gpu'])
def test_host_without_nvml_gives_an_empty_result_on_request(fake_device, run_module, device, pipe_dir):
    fake_device.use(device)
    failed, result = run_module(gpu_info, {'missing': 'empty', 'facts': True, 'mps_pipe_directory': pipe_dir})
    assert not failed
    info = result['gpu_info']
    assert info['available'] is False
    assert info['unavailable_reason'].startswith('NVML failed while initialising')
    assert info['gpus'] == [] and info['gpu_count'] == 0
    assert info['driver_version'] is None
    assert info['mps_daemon']['running'] is False
    assert result['ansible_facts']['edge_gpu_info'] == info


@pytest.mark.parametrize('error, kind', [('NVML_ERROR_NO_PERMISSION', 'no_permission'), ('NVML_ERROR_GPU_IS_LOST', 'gpu_lost')])
def test_real_faults_fail_even_with_missing_empty(fake_device, run_module, error, kind):
    fake_device.use('t4_single', init_error=error)
    failed, result = run_module(gpu_info, {'missing': 'empty'})
    assert failed
    assert result['error_kind'] == kind


def test_gpu_lost_while_reading_fails_and_names_the_gpu(fake_device, run_module, device_data):
    data = device_data('t4_dual')
    data['gpus'][1]['errors'] = {'nvmlDeviceGetPowerUsage': 'NVML_ERROR_GPU_IS_LOST'}
    fake_device.write(data)
    failed, result = run_module(gpu_info, {})
    assert failed
    assert 'reading the power draw of GPU 1' in result['msg']
    assert fake_device.initialised == 0


def test_missing_pynvml_fails_with_the_package_name(monkeypatch, run_module):
    monkeypatch.setattr(nvml, 'pynvml', None)
    monkeypatch.setattr(nvml, 'PYNVML_IMPORT_ERROR', 'Traceback: No module named pynvml')
    failed, result = run_module(gpu_info, {})
    assert failed
    assert 'nvidia-ml-py' in result['msg']


def test_missing_pynvml_with_missing_empty(monkeypatch, run_module):
    monkeypatch.setattr(nvml, 'pynvml', None)
    failed, result = run_module(gpu_info, {'missing': 'empty'})
    assert not failed
    assert result['gpu_info']['available'] is False
    assert 'nvidia-ml-py' in result['gpu_info']['unavailable_reason']
