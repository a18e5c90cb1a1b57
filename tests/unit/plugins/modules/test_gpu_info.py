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


class FakeTime(object):
    """Stands in for the time module inside module_utils.nvml: sleeping only moves the clock."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def time(self):
        return 1700000000.0 + self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(nvml, 'time', clock)
    return clock


def test_sampling_over_a_window(fake_device, run_module, fake_time, device_data, pipe_dir):
    fake_device.use('t4_single_busy')
    raw = device_data('t4_single_busy')['gpus'][0]
    failed, result = run_module(gpu_info, {'sample_seconds': '2', 'sample_interval': 0.5, 'mps_pipe_directory': pipe_dir})
    assert not failed and result['changed'] is False
    assert fake_time.sleeps == [0.5] * 4
    gpu = result['gpu_info']['gpus'][0]
    series = [raw['utilization_series'][number % len(raw['utilization_series'])] for number in range(5)]
    gpu_values = [reading['gpu'] for reading in series]
    assert gpu['utilization_sampled']['samples'] == 5
    assert gpu['utilization_sampled']['seconds'] == 2.0
    assert gpu['utilization_sampled']['gpu'] == {
        'min': min(gpu_values), 'max': max(gpu_values), 'mean': round(sum(gpu_values) / 5.0, 1)}
    sm = dict((proc['pid'], proc['sm_util']) for proc in raw['compute_processes'])
    assert [proc['utilization']['sm'] for proc in gpu['processes']] == [
        float(sm[2301]), round(sum(sm[2417][number % 3] for number in range(5)) / 5.0, 1)]
    assert gpu['memory'] == raw['memory_v2']
    assert fake_device.initialised == 0


def test_sampling_in_check_mode_reads_the_same(fake_device, run_module, fake_time, pipe_dir):
    fake_device.use('t4_dual')
    args = {'sample_seconds': 1, 'sample_interval': 0.5, 'mps_pipe_directory': pipe_dir}
    _failed, normal = run_module(gpu_info, args)
    failed, checked = run_module(gpu_info, args, check_mode=True)
    assert not failed and checked['changed'] is False
    assert checked['gpu_info'] == normal['gpu_info']
    assert [gpu['utilization_sampled']['samples'] for gpu in checked['gpu_info']['gpus']] == [3, 3]


def test_no_sampling_by_default(fake_device, run_module, fake_time):
    fake_device.use('t4_dual')
    _failed, result = run_module(gpu_info, {})
    assert fake_time.sleeps == []
    assert [gpu['utilization_sampled'] for gpu in result['gpu_info']['gpus']] == [None, None]
    assert all(proc['utilization'] is None for proc in result['gpu_info']['gpus'][1]['processes'])


@pytest.mark.parametrize('args, words', [
    ({'sample_seconds': -1}, 'sample_seconds must be 0 or a number of seconds from 0.1 to 3600, got -1'),
    ({'sample_seconds': 'soon'}, "got 'soon'"),
    ({'sample_seconds': True}, 'got True'),
    ({'sample_seconds': 7200}, 'got 7200'),
    ({'sample_seconds': 5, 'sample_interval': 0}, 'sample_interval must be a number of seconds from 0.05 to 60, got 0'),
    ({'sample_interval': 'x'}, "sample_interval must be a number of seconds from 0.05 to 60, got 'x'"),
    ({'sample_seconds': 1, 'sample_interval': 5}, 'sample_interval (5) must not be longer than sample_seconds (1)'),
])
def test_bad_sampling_options_fail_before_nvml_is_touched(fake_device, run_module, fake_time, monkeypatch, args, words):
    fake_device.use('t4_single')

    def no_init():
        raise AssertionError('NVML initialised despite a bad option')
    monkeypatch.setattr(fake_device.lib, 'nvmlInit', no_init)
    failed, result = run_module(gpu_info, args)
    assert failed
    assert words in result['msg']
    assert result['error_kind'] == 'invalid_option'
    assert fake_time.sleeps == []
