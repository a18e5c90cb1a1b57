# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import report
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption

GIB = 1024 ** 3
MIB = 1024 ** 2


def gpu(**changes):
    base = {
        'index': 1, 'name': 'Tesla T4', 'pci_bus_id': '00000000:AF:00.0',
        'memory': {'total': 15 * GIB, 'used': 2 * GIB, 'free': 13 * GIB},
        'utilization': {'gpu': 44, 'memory': 12}, 'temperature': 55, 'power_draw': 45.21,
        'compute_mode': 'exclusive_process', 'mig_mode': None,
        'processes': [{'type': 'C'}, {'type': 'M+C'}, {'type': 'M+C'}],
    }
    base.update(changes)
    return base


def test_gpu_line_has_the_nvidia_smi_columns():
    assert report.gpu_line(gpu()) == (
        'GPU 1 | Tesla T4 | 00000000:AF:00.0 | 2048MiB / 15360MiB | util 44% | 55C | 45.2W | E. Process'
        ' | 3 processes (2 MPS clients)')


def test_gpu_line_shows_reserved_memory_apart_where_known():
    line = report.gpu_line(gpu(memory={'total': 15 * GIB, 'used': 0, 'free': 15 * GIB - 615 * MIB, 'reserved': 615 * MIB}))
    assert ' | 0MiB / 15360MiB (615MiB reserved) | ' in line
    line = report.gpu_line(gpu(memory={'total': 15 * GIB, 'used': 615 * MIB, 'free': 15 * GIB - 615 * MIB, 'reserved': None}))
    assert ' | 615MiB / 15360MiB | ' in line


def test_gpu_line_shows_the_sampled_window():
    sampled = {'samples': 6, 'seconds': 5.0, 'gpu': {'min': 15, 'mean': 59.4, 'max': 97},
               'memory': {'min': 4, 'mean': 25.7, 'max': 61}}
    line = report.gpu_line(gpu(utilization_sampled=sampled))
    assert ' | util 44% (min 15% mean 59.4% max 97% over 6 samples) | ' in line
    assert ' | util 44% | ' in report.gpu_line(gpu(utilization_sampled=None))


def test_gpu_line_with_unsupported_fields_and_mig():
    line = report.gpu_line(gpu(memory=None, utilization=None, temperature=None, power_draw=None,
                               compute_mode='default', mig_mode={'current': 'enabled', 'pending': 'enabled'},
                               processes=[]))
    assert line == 'GPU 1 | Tesla T4 | 00000000:AF:00.0 | N/A | util N/A | N/A | N/A | Default | MIG | 0 processes'


def test_gpu_line_without_process_list():
    assert not report.gpu_line(gpu(processes=None)).endswith('processes')


def test_device_lines():
    info = {'available': True, 'driver_version': '535.261.03', 'cuda_driver_version': '12.2', 'gpu_count': 2,
            'gpus': [gpu()], 'mps_daemon': {'running': True, 'pid': 4242}}
    lines = report.device_lines(info)
    assert lines[0] == 'driver 535.261.03, CUDA 12.2, 2 GPU(s), MPS control daemon pid 4242'
    assert lines[1].startswith('GPU 1 | Tesla T4')


def test_device_lines_without_nvml():
    assert report.device_lines({'available': False, 'unavailable_reason': 'no driver'}) == ['no usable NVML: no driver']


def test_fleet_summary():
    by_host = {
        'a': {'available': True, 'gpus': [gpu(), gpu(name='NVIDIA A100-SXM4-40GB')]},
        'b': {'available': True, 'gpus': [gpu()]},
        'c': {'available': False, 'gpus': []},
    }
    assert report.fleet_summary(by_host) == {
        'devices': 3, 'gpus': 3, 'models': {'Tesla T4': 2, 'NVIDIA A100-SXM4-40GB': 1}, 'without_nvml': ['c']}


@pytest.mark.parametrize('info, named', [
    ('GPU 0', "'GPU 0'"), (None, 'None'), ({'gpus': 2}, 'available'),
    ({'available': True}, 'driver_version'), ({'available': True, 'driver_version': '1', 'cuda_driver_version': '1',
                                               'gpu_count': 1, 'gpus': 'GPU 0'}, 'gpus is not a list'),
])
def test_device_lines_refuse_what_is_no_gpu_info_result(info, named):
    with pytest.raises(InvalidOption) as raised:
        report.device_lines(info)
    assert str(raised.value).startswith('gpu_summary: ') and named in str(raised.value)


@pytest.mark.parametrize('by_host, named', [
    (['edge-01'], "['edge-01']"), ('edge-01', "'edge-01'"), ({'edge-01': 'down'}, "host edge-01: 'down'"),
    ({'edge-01': {'available': True}}, 'lacks gpus'),
])
def test_fleet_summary_refuses_what_is_no_map_of_gpu_info_results(by_host, named):
    with pytest.raises(InvalidOption) as raised:
        report.fleet_summary(by_host)
    assert str(raised.value).startswith('gpu_fleet_summary') and named in str(raised.value)


def test_integrated_gpu_where_nvml_answers_only_its_identity():
    # A Jetson/Tegra GPU: no PCI bus id, no memory, no compute mode, no process list.
    line = report.gpu_line(gpu(name='Orin (nvgpu)', pci_bus_id=None, memory=None, utilization=None, temperature=None,
                               power_draw=None, compute_mode=None, processes=None))
    assert line == 'GPU 1 | Orin (nvgpu) | N/A | N/A | util N/A | N/A | N/A | N/A'
    lines = report.device_lines({'available': True, 'driver_version': '540.4.0', 'cuda_driver_version': None,
                                 'gpu_count': 1, 'gpus': []})
    assert lines == ['driver 540.4.0, CUDA N/A, 1 GPU(s)']


@pytest.mark.parametrize('gpu, named', [
    ({'name': 'Tesla T4', 'pci_bus_id': None}, 'it lacks index'),
    ({'index': '0', 'name': 'Tesla T4', 'pci_bus_id': None}, 'its index is no number'),
    ({'index': 0}, 'it lacks name, pci_bus_id'),
])
def test_a_gpu_entry_that_gpu_info_never_returns_is_named(gpu, named):
    info = {'available': True, 'driver_version': '1', 'cuda_driver_version': '1', 'gpu_count': 1, 'gpus': [gpu]}
    with pytest.raises(InvalidOption) as raised:
        report.device_lines(info)
    assert str(raised.value).startswith('gpu_summary: the GPU ') and named in str(raised.value)


def test_a_gpu_without_a_name_counts_as_unknown_in_the_fleet_summary():
    info = {'available': True, 'gpus': [{'index': 0, 'name': None, 'pci_bus_id': None}]}
    assert report.fleet_summary({'edge-25': info})['models'] == {'unknown': 1}
