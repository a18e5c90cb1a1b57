# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""gpu_info through ansible-playbook over the 25-device simulated fleet."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from fleet import load_device  # pylint: disable=import-error

NO_NVML = {'no_gpu', 'driver_not_loaded'}
COMPUTE_MODES = {0: 'default', 2: 'prohibited', 3: 'exclusive_process'}
MIG = {0: 'disabled', 1: 'enabled'}


def expected_memory(raw):
    """The v2 figures where the driver has that call, else v1's with the reserve unknown."""
    if raw['memory'] is None:
        return None
    if raw.get('memory_v2'):
        return dict(raw['memory_v2'])
    return dict(raw['memory'], reserved=None)


def expected_gpus(device):
    """The gpu_info view of a device file, derived here from NVML's raw units (not sampled)."""
    names = device.get('process_names', {})
    gpus = []
    for index, raw in enumerate(device['gpus']):
        # null in the device file: NVML does not answer that call (Jetson/Tegra), so gpu_info says None.
        listed = raw['compute_processes'] is not None or raw['mps_processes'] is not None
        mps_pids = set(proc['pid'] for proc in raw['mps_processes'] or [])
        processes = dict((proc['pid'], proc) for proc in (raw['compute_processes'] or []) + (raw['mps_processes'] or []))
        gpus.append({
            'index': index,
            'name': raw['name'],
            'uuid': raw['uuid'],
            'pci_bus_id': raw['pci_bus_id'],
            'compute_capability': '%d.%d' % tuple(raw['compute_capability']),
            'memory': expected_memory(raw),
            # Without sampling, the one reading of the session is the series' first.
            'utilization': (raw.get('utilization_series') or [raw['utilization']])[0],
            'utilization_sampled': None,
            'temperature': raw['temperature'],
            'power_draw': None if raw['power_usage'] is None else raw['power_usage'] / 1000.0,
            'compute_mode': None if raw['compute_mode'] is None else COMPUTE_MODES[raw['compute_mode']],
            'persistence_mode': None if raw['persistence_mode'] is None else raw['persistence_mode'] == 1,
            'mig_mode': None if raw['mig_mode'] is None else {
                'current': MIG[raw['mig_mode'][0]], 'pending': MIG[raw['mig_mode'][1]]},
            'processes': None if not listed else [{
                'pid': pid,
                'name': names.get(str(pid)),
                'used_memory': processes[pid]['used_memory'],
                'type': 'M+C' if pid in mps_pids else 'C',
                'mps_server': names.get(str(pid)) == 'nvidia-cuda-mps-server',
                'utilization': None,
            } for pid in sorted(processes)],
        })
    return gpus


def test_fleet_returns_each_devices_fixture_values_exactly(fleet_hosts, playbook):
    run = playbook('gpu_info_fleet.yml', extra_vars={'missing': 'empty'})
    assert run.rc == 0, run.output
    assert len(fleet_hosts) >= 20
    recap = run.recap()
    assert sorted(recap) == sorted(fleet_hosts)
    assert all(counts['changed'] == 0 and counts['failed'] == 0 for counts in recap.values()), recap

    for host, device_name in fleet_hosts.items():
        result = run.result(host)
        info = result['gpu_info']
        assert result['changed'] is False
        assert result['ansible_facts']['edge_gpu_info'] == info
        device = load_device(device_name)
        if device_name in NO_NVML:
            assert info['available'] is False, host
            assert info['gpus'] == []
            continue
        assert info['available'] is True, host
        assert info['driver_version'] == device['driver_version']
        assert info['nvml_version'] == device['nvml_version']
        cuda = device['cuda_driver_version']
        assert info['cuda_driver_version'] == '%d.%d' % (cuda // 1000, cuda % 1000 // 10)
        assert info['gpu_count'] == len(device['gpus'])
        assert info['gpus'] == expected_gpus(device), host
        assert info['mps_daemon']['running'] is False


def spread(values):
    return {'min': min(values), 'mean': round(sum(values) / float(len(values)), 1), 'max': max(values)}


def test_sampling_over_the_fleet_matches_each_devices_series(fleet_hosts, playbook):
    # 0.2 s every 0.1 s: three samples. The bundled series have three entries, so whichever
    # call of the session the window starts at, it sees each entry once.
    run = playbook('gpu_info_fleet.yml', extra_vars={'missing': 'empty', 'sample_seconds': 0.2, 'sample_interval': 0.1})
    assert run.rc == 0, run.output
    assert sorted(run.recap()) == sorted(fleet_hosts)
    seen_series = set()
    for host, device_name in fleet_hosts.items():
        info = run.result(host)['gpu_info']
        if device_name in NO_NVML:
            assert info['available'] is False and info['gpus'] == [], host
            continue
        device = load_device(device_name)
        for gpu, raw in zip(info['gpus'], device['gpus']):
            assert gpu['memory'] == expected_memory(raw), host
            if raw['utilization'] is None:
                assert gpu['utilization_sampled'] is None, host
            else:
                series = raw.get('utilization_series') or [raw['utilization']]
                assert len(series) in (1, 3)
                if len(series) == 3:
                    seen_series.add(device_name)
                sampled = gpu['utilization_sampled']
                assert sampled['samples'] == 3, host
                assert 0.2 <= sampled['seconds'] < 5, host
                assert sampled['gpu'] == spread([reading['gpu'] for reading in series]), host
                assert sampled['memory'] == spread([reading['memory'] for reading in series]), host
            if gpu['processes'] is None:
                continue
            util = {}
            for proc in (raw['compute_processes'] or []) + (raw['mps_processes'] or []):
                if 'sm_util' in proc:
                    values = [proc['sm_util']] if not isinstance(proc['sm_util'], list) else proc['sm_util']
                    memory = [proc['mem_util']] if not isinstance(proc['mem_util'], list) else proc['mem_util']
                    util[proc['pid']] = {'sm': spread(values * (3 // len(values)))['mean'],
                                         'memory': spread(memory * (3 // len(memory)))['mean']}
            for proc in gpu['processes']:
                assert proc['utilization'] == util.get(proc['pid'], {'sm': 0.0, 'memory': 0.0}), (host, proc)
    assert seen_series == {'t4_single_busy', 't4_dual'}


def test_hosts_without_nvml_fail_clearly_by_default(fleet_hosts, playbook):
    run = playbook('gpu_info_fleet.yml', extra_vars={'target': 'no_nvml', 'expect_failure': True})
    assert run.rc == 0, run.output
    by_device = dict((device, run.result(host)) for host, device in fleet_hosts.items() if device in NO_NVML)
    assert by_device['no_gpu']['failed'] is True
    assert 'libnvidia-ml.so.1) was not found' in by_device['no_gpu']['msg']
    assert by_device['driver_not_loaded']['failed'] is True
    assert 'kernel driver is not loaded' in by_device['driver_not_loaded']['msg']


def test_selection_by_index_and_uuid_across_the_fleet(fleet_hosts, playbook):
    second = load_device('t4_dual')['gpus'][1]['uuid']
    run = playbook('gpu_info_fleet.yml', extra_vars={'target': 't4_dual', 'gpus': [second], 'processes': False})
    assert run.rc == 0, run.output
    for host in [h for h, d in fleet_hosts.items() if d == 't4_dual']:
        gpus = run.result(host)['gpu_info']['gpus']
        assert [gpu['uuid'] for gpu in gpus] == [second]
        assert 'processes' not in gpus[0]


def test_bad_selector_fails_naming_it(fleet_hosts, playbook):
    run = playbook('gpu_info_fleet.yml', extra_vars={'target': 'edge-01', 'gpus': ['GPU-not-a-uuid'], 'expect_failure': True})
    result = run.result('edge-01')
    assert result['failed'] is True
    assert "'GPU-not-a-uuid'" in result['msg']
    run = playbook('gpu_info_fleet.yml', extra_vars={'target': 'edge-01', 'gpus': [3], 'expect_failure': True})
    assert 'no GPU matches 3' in run.result('edge-01')['msg']


def test_check_mode_reports_the_same(fleet_hosts, playbook):
    normal = playbook('gpu_info_fleet.yml', extra_vars={'target': 't4_busy'})
    normal_results = dict((host, normal.result(host)['gpu_info']) for host, d in fleet_hosts.items() if d == 't4_single_busy')
    checked = playbook('gpu_info_fleet.yml', extra_vars={'target': 't4_busy'}, check=True)
    assert checked.rc == 0, checked.output
    for host, info in normal_results.items():
        assert checked.result(host)['gpu_info'] == info


def test_demo_playbook_prints_a_summary_per_device_and_for_the_fleet(fleet_hosts, playbook):
    run = playbook('edge_gpu.sharing.gpu_inventory')
    assert run.rc == 0, run.output
    assert run.output.count('driver 535.261.03, CUDA 12.2') == sum(
        1 for device in fleet_hosts.values() if device not in NO_NVML | {'t4_legacy_bindings', 'jetson_orin'})
    # The Jetson-class device: what NVML does not answer reads N/A, and its run does not fail.
    assert 'GPU 0 | Orin (nvgpu) | N/A | N/A | util N/A | N/A | N/A | N/A' in run.output
    assert ('GPU 1 | Tesla T4 | 00000000:AF:00.0 | 2400MiB / 15360MiB (256MiB reserved) | util 44% | 55C | 45.2W'
            ' | E. Process') in run.output
    assert '"devices": %d' % len(fleet_hosts) in run.output
    assert '"without_nvml": [' in run.output
