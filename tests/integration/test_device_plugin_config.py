# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""device_plugin_config through ansible-playbook: golden examples, round trip, every rejection."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from harness import mps_daemons_under, validate_kubernetes  # pylint: disable=import-error

# NVIDIA k8s-device-plugin README, "Shared Access to GPUs": the time-slicing and MPS examples.
README_TIME_SLICING = {'version': 'v1', 'sharing': {'timeSlicing': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 10}]}}}
README_MPS = {'version': 'v1', 'sharing': {'mps': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 10}]}}}


@pytest.fixture
def run_module(fleet_hosts, playbook):
    def run(args, expect_failure=False, target='edge-01', with_gpus=False, diff=False):
        run = playbook('device_plugin_config_module.yml', args=['--diff'] if diff else [], extra_vars={
            'target': target, 'module_args': args, 'expect_failure': expect_failure, 'with_gpus': with_gpus})
        assert run.rc == 0, run.output
        return run.result(target), run
    return run


@pytest.mark.parametrize('args, example', [
    ({'strategy': 'time_slicing', 'replicas': 10}, README_TIME_SLICING),
    ({'strategy': 'mps', 'replicas': 10}, README_MPS),
])
def test_readme_examples_round_trip(run_module, tmp_path, args, example):
    dest = str(tmp_path / 'config.yaml')
    result, _run = run_module(dict(args, dest=dest))
    assert result['changed'] is True and result['config'] == example
    with open(dest) as handle:
        assert yaml.safe_load(handle) == example
    again, _run = run_module(dict(args, dest=dest))
    assert again['changed'] is False


def test_changing_replicas_changes_only_that_field(run_module, tmp_path):
    dest = str(tmp_path / 'config.yaml')
    run_module({'replicas': 4, 'fail_requests_greater_than_one': True, 'dest': dest})
    result, run = run_module({'replicas': 8, 'fail_requests_greater_than_one': True, 'dest': dest}, diff=True)
    assert result['changed'] is True
    assert '-      replicas: 4' in run.output and '+      replicas: 8' in run.output
    removed = [line for line in run.output.splitlines() if line.startswith('-') and not line.startswith('---')]
    added = [line for line in run.output.splitlines() if line.startswith('+') and not line.startswith('+++')]
    assert removed == ['-      replicas: 4'] and added == ['+      replicas: 8']


MIG_GPU = 'edge-19'
DUAL_T4 = 'edge-13'
OLD_DRIVER = 'edge-21'   # driver 470.256.02, older than MPS pinned memory limits (495.29.05, CUDA 11.5)
IN_SERVICE = '# the config in service\n'

# Every case is (name, target, module, args, with_gpus, words in the failure message).
REFUSALS = [
    ('version', 'edge-01', {'version': 'v2', 'replicas': 4}, False, 'v2'),
    ('no-resources', 'edge-01', {'resources': [], 'replicas': 4}, False, 'resources must be a non-empty list'),
    ('one-replica', 'edge-01', {'replicas': 1}, False, 'replicas must be a whole number from 2 (to share a GPU) to 1024, got 1'),
    ('mps-mixed', 'edge-01', {'strategy': 'mps', 'replicas': 2, 'mig_strategy': 'mixed'}, False, "mig_strategy is 'mixed'"),
    ('mps-mig', MIG_GPU, {'strategy': 'mps', 'replicas': 2}, True, 'not supported on MIG-enabled GPUs: GPU 0'),
    ('mps-49', 'edge-01', {'strategy': 'mps', 'replicas': 49}, True, 'replicas is 49, but MPS serves at most 48'),
    ('mps-volta', 'edge-01', {'strategy': 'mps', 'replicas': 17, 'gpus': [
        {'index': 0, 'uuid': 'GPU-5f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8', 'name': 'Tesla V100', 'compute_capability': '7.0'}]},
     False, 'at most 16 clients per GPU before compute capability 7.5'),
    ('both', 'edge-01', {'sharing': {'timeSlicing': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2}]},
                                     'mps': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2}]}}},
     False, 'time-slicing and MPS are mutually exclusive'),
    # What the plugin reads and then drops: pods asking for the renamed resource would stay Pending.
    ('rename', 'edge-01', {'replicas': 4, 'resources': [{'rename': 'nvidia.com/gpu-quarter'}]}, False,
     'pods that ask for nvidia.com/gpu-quarter would stay Pending'),
    ('devices', DUAL_T4, {'replicas': 2, 'resources': [{'devices': [1]}]}, True,
     'resources[0].devices is [1], but the NVIDIA device plugin ignores devices under sharing.timeSlicing.resources'),
    ('mps-devices', DUAL_T4, {'sharing': {'mps': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2, 'devices': 1}]}}},
     True, 'ignores devices under sharing.mps.resources'),
    ('unknown-flag', 'edge-01', {'replicas': 2, 'flags': {'plugin': {'deviceIdStrategy': 'uuid'}}}, False,
     'flags.plugin.deviceIdStrategy is not a flag of the device plugin config'),
    ('sleep-number', 'edge-01', {'replicas': 2, 'flags': {'gfd': {'sleepInterval': 60}}}, False,
     'flags.gfd.sleepInterval is the bare number 60, which GPU feature discovery reads as nanoseconds'),
    ('vfio', 'edge-01', {'replicas': 2, 'flags': {'deviceDiscoveryStrategy': 'vfio'}}, False, 'the device plugin refuses'),
    ('relative-mps-root', 'edge-01', {'strategy': 'mps', 'replicas': 2, 'flags': {'mpsRoot': 'run/nvidia/mps'}}, False,
     "flags.mpsRoot 'run/nvidia/mps' must be an absolute path"),
]

# A config with every flag the plugin's config file reads (v0.20), some booleans as the strings -e gives.
ALL_FLAGS = {
    'migStrategy': 'none', 'failOnInitError': 'false', 'mpsRoot': '/run/nvidia/mps', 'nvidiaDriverRoot': '/',
    'nvidiaDevRoot': '/', 'gdrcopyEnabled': False, 'gdsEnabled': 'no', 'mofedEnabled': False,
    'useNodeFeatureAPI': True, 'deviceDiscoveryStrategy': 'auto',
    'plugin': {'passDeviceSpecs': 'true', 'deviceListStrategy': ['envvar', 'cdi-annotations'], 'deviceIDStrategy': 'uuid',
               'cdiAnnotationPrefix': 'cdi.k8s.io/', 'nvidiaCTKPath': '/usr/bin/nvidia-ctk',
               'containerDriverRoot': '/driver-root', 'sharedDevicesAllocationPolicy': 'distributed'},
    'gfd': {'oneshot': False, 'noTimestamp': 'yes', 'sleepInterval': '60s', 'outputFile': '',
            'machineTypeFile': '/sys/class/dmi/id/product_name'},
}
# The same flags as the plugin must find them: booleans, not strings.
ALL_FLAGS_WRITTEN = dict(ALL_FLAGS, failOnInitError=False, gdsEnabled=False,
                         plugin=dict(ALL_FLAGS['plugin'], passDeviceSpecs=True), gfd=dict(ALL_FLAGS['gfd'], noTimestamp=True))


def grouped(playbook, cases):
    run = playbook('grouped_cases.yml', extra_vars={'cases': cases})
    assert run.rc == 0, run.output
    results = {}
    for host in set(case['target'] for case in cases):
        for result in run.result(host):
            results[result['item']['name']] = result
    assert sorted(results) == sorted(case['name'] for case in cases)
    for result in results.values():
        # A refusal, not a crash: no Python traceback and nothing on the module's stderr.
        assert 'Traceback (most recent call last)' not in str(result.get('exception', '')) + result.get('msg', '')
        assert 'module_stderr' not in result
    return results


def test_refusals_labels_and_driver_checks_in_one_run(playbook, fleet_hosts, sim_root, tmp_path):
    """One ansible-playbook run: every refusal leaves its file as it was, the accepted configs
    are written as the plugin reads them with GFD's labels, and pinned memory is refused on an
    old driver before the device changes."""
    cases = []
    for name, target, args, with_gpus, _words in REFUSALS:
        dest = str(tmp_path / (name + '.yaml'))
        with open(dest, 'w') as handle:
            handle.write(IN_SERVICE)
        cases.append({'name': name, 'target': target, 'module': 'device_plugin_config', 'with_gpus': with_gpus,
                      'args': dict(args, dest=dest)})
    flags_dest = str(tmp_path / 'all-flags.yaml')
    cases += [
        {'name': 'all-flags', 'target': DUAL_T4, 'module': 'device_plugin_config', 'with_gpus': True,
         'args': {'strategy': 'time_slicing', 'replicas': 4, 'flags': ALL_FLAGS, 'dest': flags_dest}},
        {'name': 'renamed', 'target': DUAL_T4, 'module': 'device_plugin_config', 'with_gpus': True,
         'args': {'strategy': 'mps', 'replicas': 2, 'rename_by_default': True}},
        {'name': 'not-shared', 'target': 'edge-01', 'module': 'device_plugin_config', 'with_gpus': True,
         'args': {'strategy': 'none'}},
    ]
    pipe = os.path.join(sim_root, OLD_DRIVER, 'mps', 'pipe')
    log = os.path.join(sim_root, OLD_DRIVER, 'mps', 'log')
    cases += [
        {'name': 'mps-pinned-old-driver', 'target': OLD_DRIVER, 'module': 'mps',
         'args': {'pipe_directory': pipe, 'log_directory': log, 'default_pinned_device_mem_limit': {'0': '2G'}}},
        {'name': 'sharing-pinned-old-driver', 'target': OLD_DRIVER, 'module': 'gpu_sharing',
         'args': {'strategy': 'mps', 'mps_pipe_directory': pipe, 'mps_log_directory': log, 'force': True,
                  'mps_pinned_device_mem_limit': '2G'}},
        {'name': 'sharing-gpu-memory-old-driver', 'target': OLD_DRIVER, 'module': 'gpu_sharing',
         'args': {'strategy': 'mps', 'mps_pipe_directory': pipe, 'mps_log_directory': log, 'force': True, 'workloads': [
             {'name': 'detector', 'image': 'registry.local/detector:1.4', 'gpu_percentage': 20, 'gpu_memory': '1G'}]}},
    ]
    with open(os.path.join(sim_root, OLD_DRIVER, 'nvml.json'), 'rb') as handle:
        old_driver_state = handle.read()

    results = grouped(playbook, cases)

    for name, _target, _args, _with_gpus, words in REFUSALS:
        assert results[name]['failed'] is True and words in results[name]['msg'], (name, results[name])
        with open(str(tmp_path / (name + '.yaml'))) as handle:
            assert handle.read() == IN_SERVICE, name

    written = results['all-flags']
    assert written['changed'] is True
    with open(flags_dest) as handle:
        assert yaml.safe_load(handle)['flags'] == ALL_FLAGS_WRITTEN
    # GFD's rules for a shared, not renamed nvidia.com/gpu on two Tesla T4: the replicas, the
    # strategy, the product with its spaces as '-' and -SHARED, MPS not in use.
    assert written['expected_labels'] == {
        'nvidia.com/gpu.replicas': '4', 'nvidia.com/gpu.sharing-strategy': 'time-slicing',
        'nvidia.com/gpu.product': 'Tesla-T4-SHARED', 'nvidia.com/gpu.count': '2', 'nvidia.com/mps.capable': 'false'}
    # Renamed by default: no -SHARED.
    assert results['renamed']['expected_labels']['nvidia.com/gpu.product'] == 'Tesla-T4'
    assert results['renamed']['expected_labels']['nvidia.com/mps.capable'] == 'true'
    # Not shared: one replica, strategy none.
    assert results['not-shared']['expected_labels'] == {
        'nvidia.com/gpu.replicas': '1', 'nvidia.com/gpu.sharing-strategy': 'none', 'nvidia.com/gpu.product': 'Tesla-T4',
        'nvidia.com/gpu.count': '1', 'nvidia.com/mps.capable': 'false'}

    for name, option in (('mps-pinned-old-driver', 'default_pinned_device_mem_limit[0] 2G'),
                         ('sharing-pinned-old-driver', 'mps_pinned_device_mem_limit 2G'),
                         ('sharing-gpu-memory-old-driver', 'workloads[detector].gpu_memory 1G')):
        assert results[name]['failed'] is True, results[name]
        assert results[name]['msg'] == ('%s needs driver >= 495.29.05 (MPS pinned device memory limits came with '
                                        'CUDA 11.5), GPU host has 470.256.02' % option)
    with open(os.path.join(sim_root, OLD_DRIVER, 'nvml.json'), 'rb') as handle:
        assert handle.read() == old_driver_state
    assert mps_daemons_under(os.path.join(sim_root, OLD_DRIVER)) == [] and not os.path.exists(pipe)


def test_configmap_of_profiles_validates(run_module, tmp_path):
    profiles = {'t4-x4': {'strategy': 'time_slicing', 'replicas': 4}, 't4-mps': {'strategy': 'mps', 'replicas': 2}}
    dest = str(tmp_path / 'configmap.yaml')
    result, _run = run_module({'profiles': profiles, 'default_profile': 't4-x4', 'dest': dest})
    with open(dest) as handle:
        written = yaml.safe_load(handle)
    assert written == result['configmap']
    validate_kubernetes(written)
    assert yaml.safe_load(written['data']['t4-mps']) == {
        'version': 'v1', 'sharing': {'mps': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2}]}}}
    assert os.stat(dest).st_mode & 0o777 == 0o644
