# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""gpu_info on a real GPU agrees with nvidia-smi, field by field."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import subprocess

import pytest

from smi import query_csv  # pylint: disable=import-error

MIB = 1024 * 1024
FIELDS = ['index', 'name', 'uuid', 'pci.bus_id', 'compute_cap', 'memory.total', 'memory.used', 'memory.free',
          'utilization.gpu', 'utilization.memory', 'temperature.gpu', 'power.draw', 'compute_mode',
          'persistence_mode', 'mig.mode.current', 'mig.mode.pending', 'driver_version']
SMI_COMPUTE_MODES = {'Default': 'default', 'Exclusive_Process': 'exclusive_process', 'Prohibited': 'prohibited'}


def number(cell):
    return None if cell.startswith('[') or cell in ('N/A', '') else float(cell)


def mig(cell):
    return None if cell.startswith('[') or cell == 'N/A' else cell.lower()


@pytest.fixture
def both(run_module_locally):
    smi = query_csv('gpu', FIELDS)
    info = run_module_locally('edge_gpu.sharing.gpu_info', {})['gpu_info']
    return smi, info


def test_same_gpus_in_the_same_order(both):
    smi, info = both
    assert [int(row['index']) for row in smi] == [gpu['index'] for gpu in info['gpus']]
    assert [row['uuid'] for row in smi] == [gpu['uuid'] for gpu in info['gpus']]
    assert info['gpu_count'] == len(smi)
    assert info['driver_version'] == smi[0]['driver_version']


def test_identity_and_modes_match(both):
    smi, info = both
    for row, gpu in zip(smi, info['gpus']):
        assert gpu['name'] == row['name']
        assert gpu['pci_bus_id'].lower() == row['pci.bus_id'].lower()
        assert gpu['compute_capability'] == row['compute_cap']
        assert gpu['compute_mode'] == SMI_COMPUTE_MODES[row['compute_mode']]
        assert gpu['persistence_mode'] == (row['persistence_mode'] == 'Enabled')
        if gpu['mig_mode'] is None:
            assert mig(row['mig.mode.current']) is None
        else:
            assert gpu['mig_mode'] == {'current': mig(row['mig.mode.current']), 'pending': mig(row['mig.mode.pending'])}


def test_measurements_match_within_sampling_noise(both):
    smi, info = both
    for row, gpu in zip(smi, info['gpus']):
        assert gpu['memory']['total'] // MIB == pytest.approx(number(row['memory.total']), abs=1)
        assert gpu['memory']['used'] // MIB == pytest.approx(number(row['memory.used']), abs=64)
        if number(row['utilization.gpu']) is None:
            assert gpu['utilization'] is None
        else:
            assert gpu['utilization']['gpu'] == pytest.approx(number(row['utilization.gpu']), abs=25)
        assert gpu['temperature'] == pytest.approx(number(row['temperature.gpu']), abs=5)
        if number(row['power.draw']) is None:
            assert gpu['power_draw'] is None
        else:
            assert gpu['power_draw'] == pytest.approx(number(row['power.draw']), rel=0.25, abs=15)


def reserved_by_smi():
    """nvidia-smi's memory.reserved per GPU in MiB, or None where its nvidia-smi lacks the field."""
    try:
        return [number(row['memory.reserved']) for row in query_csv('gpu', ['memory.reserved'])]
    except subprocess.CalledProcessError:
        return None


def test_memory_used_is_what_nvidia_smi_shows_with_reserved_apart(both):
    smi, info = both
    reserved = reserved_by_smi()
    for position, (row, gpu) in enumerate(zip(smi, info['gpus'])):
        memory = gpu['memory']
        # What the note records: gpu_info's figures beside nvidia-smi's, in MiB.
        print('GPU %d %s: gpu_info used %d MiB, reserved %s MiB, free %d MiB, total %d MiB; nvidia-smi used %s MiB, '
              'reserved %s MiB' % (gpu['index'], gpu['name'], memory['used'] // MIB,
                                   None if memory['reserved'] is None else memory['reserved'] // MIB,
                                   memory['free'] // MIB, memory['total'] // MIB, row['memory.used'],
                                   None if reserved is None else reserved[position]))
        assert abs(memory['used'] // MIB - number(row['memory.used'])) <= 64
        if memory['reserved'] is not None:
            assert memory['used'] + memory['reserved'] + memory['free'] == pytest.approx(memory['total'], abs=MIB)
            if reserved is not None and reserved[position] is not None:
                assert abs(memory['reserved'] // MIB - reserved[position]) <= 64


def test_sampling_on_the_gpu(run_module_locally):
    info = run_module_locally('edge_gpu.sharing.gpu_info', {'sample_seconds': 1, 'sample_interval': 0.25})['gpu_info']
    for gpu in info['gpus']:
        sampled = gpu['utilization_sampled']
        print('GPU %d sampled: %s; processes: %s' % (gpu['index'], sampled, [
            (proc['pid'], proc['type'], proc['utilization']) for proc in gpu['processes'] or []]))
        if gpu['utilization'] is None:
            assert sampled is None
            continue
        assert sampled['samples'] == 5
        assert 0.99 <= sampled['seconds'] < 3
        for key in ('gpu', 'memory'):
            assert 0 <= sampled[key]['min'] <= sampled[key]['mean'] <= sampled[key]['max'] <= 100
        for proc in gpu['processes'] or []:
            assert proc['utilization'] is None or 0 <= proc['utilization']['sm'] <= 100


def test_process_list_matches_query_compute_apps(both):
    _smi, info = both
    apps = query_csv('compute-apps', ['pid', 'gpu_uuid', 'used_memory'])
    by_uuid = {}
    for app in apps:
        by_uuid.setdefault(app['gpu_uuid'], set()).add(int(app['pid']))
    for gpu in info['gpus']:
        assert set(proc['pid'] for proc in gpu['processes']) >= by_uuid.get(gpu['uuid'], set())
