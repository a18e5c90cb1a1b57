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

from harness import validate_kubernetes  # pylint: disable=import-error

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


@pytest.mark.parametrize('args, target, with_gpus, words', [
    ({'version': 'v2', 'replicas': 4}, 'edge-01', False, 'v2'),
    ({'resources': [], 'replicas': 4}, 'edge-01', False, 'resources must be a non-empty list'),
    ({'replicas': 1}, 'edge-01', False, 'replicas must be a whole number of at least 2 to share a GPU, got 1'),
    ({'strategy': 'mps', 'replicas': 2, 'mig_strategy': 'mixed'}, 'edge-01', False, "mig_strategy is 'mixed'"),
    ({'strategy': 'mps', 'replicas': 2}, MIG_GPU, True, 'not supported on MIG-enabled GPUs: GPU 0'),
    ({'strategy': 'mps', 'replicas': 49}, 'edge-01', True, 'replicas is 49, but MPS serves at most 48'),
    ({'strategy': 'mps', 'replicas': 17, 'gpus': [{'index': 0, 'uuid': 'GPU-5f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8',
                                                   'name': 'Tesla V100', 'compute_capability': '7.0'}]},
     'edge-01', False, 'at most 16 clients per GPU before compute capability 7.5'),
    ({'replicas': 2, 'resources': [{'devices': [1]}]}, 'edge-01', True, 'resources[0].devices names GPU 1 but the node has GPUs 0-0'),
    ({'replicas': 2, 'resources': [{'devices': ['GPU-ffffffff-ffff-ffff-ffff-ffffffffffff']}]}, 'edge-13', True,
     'which is not a GPU of the node'),
    ({'sharing': {'timeSlicing': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2}]},
                  'mps': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2}]}}},
     'edge-01', False, 'time-slicing and MPS are mutually exclusive'),
])
def test_each_rejection_fails_before_the_file_changes(run_module, tmp_path, args, target, with_gpus, words):
    dest = str(tmp_path / 'config.yaml')
    with open(dest, 'w') as handle:
        handle.write('# the config in service\n')
    result, _run = run_module(dict(args, dest=dest), expect_failure=True, target=target, with_gpus=with_gpus)
    assert result['failed'] is True and words in result['msg']
    with open(dest) as handle:
        assert handle.read() == '# the config in service\n'


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
