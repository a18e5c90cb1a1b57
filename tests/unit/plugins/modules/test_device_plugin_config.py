# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import serialize
from ansible_collections.edge_gpu.sharing.plugins.modules import device_plugin_config as module

FOUR = {'version': 'v1', 'sharing': {'timeSlicing': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 4}]}}}


@pytest.fixture
def dest(tmp_path):
    return str(tmp_path / 'plugin' / 'config.yaml')


def read(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def test_writes_parses_back_and_is_idempotent(run_module, dest):
    failed, result = run_module(module, {'replicas': 4, 'dest': dest})
    assert not failed and result['changed'] is True
    assert read(dest) == FOUR == result['config']
    assert result['expected_labels'] == {'nvidia.com/gpu.sharing-strategy': 'time-slicing', 'nvidia.com/gpu.replicas': '4',
                                         'nvidia.com/mps.capable': 'false'}
    mtime = os.stat(dest).st_mtime_ns
    failed, result = run_module(module, {'replicas': 4, 'dest': dest})
    assert result['changed'] is False and os.stat(dest).st_mtime_ns == mtime


def test_changing_replicas_changes_only_that_field(run_module, dest):
    run_module(module, {'replicas': 4, 'dest': dest, 'fail_requests_greater_than_one': True})
    failed, result = run_module(module, {'replicas': 6, 'dest': dest, 'fail_requests_greater_than_one': True, '_ansible_diff': True})
    assert result['changed'] is True
    before = result['diff']['before'].splitlines()
    after = result['diff']['after'].splitlines()
    changed = [(b, a) for b, a in zip(before, after) if b != a]
    assert changed == [('      replicas: 4', '      replicas: 6')] and len(before) == len(after)


def test_check_mode_writes_nothing(run_module, dest):
    failed, result = run_module(module, {'replicas': 4, 'dest': dest}, check_mode=True)
    assert result['changed'] is True and not os.path.exists(dest)


def test_backup_keeps_the_old_file(run_module, dest):
    run_module(module, {'replicas': 4, 'dest': dest})
    failed, result = run_module(module, {'replicas': 8, 'dest': dest, 'backup': True})
    assert read(result['backup_file']) == FOUR and read(dest)['sharing']['timeSlicing']['resources'][0]['replicas'] == 8


@pytest.mark.parametrize('args, words', [
    ({'replicas': 1}, 'replicas must be a whole number from 2 (to share a GPU) to 1024'),
    ({'strategy': 'mps', 'replicas': 64}, 'MPS serves at most 48'),
    ({'strategy': 'mps', 'replicas': 2, 'mig_strategy': 'mixed'}, "mig_strategy is 'mixed'"),
    ({'replicas': 2, 'resources': [{'devices': [0]}],
      'gpus': [{'index': 0, 'uuid': 'GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6', 'name': 'Tesla T4', 'compute_capability': '7.5'}]},
     'the NVIDIA device plugin ignores devices under sharing.timeSlicing.resources'),
    ({'replicas': 2, 'resources': [{'rename': 'nvidia.com/gpu-half'}]}, 'pods that ask for nvidia.com/gpu-half would stay Pending'),
    ({'replicas': 2, 'flags': {'gfd': {'sleepInterval': 60}}}, 'flags.gfd.sleepInterval is the bare number 60'),
    ({'replicas': 2, 'flags': {'mpsRoot': 'mps'}}, "flags.mpsRoot 'mps' must be an absolute path"),
    ({'strategy': 'sliced'}, 'sliced'),
])
def test_rejection_leaves_the_file_as_it_was(run_module, dest, args, words):
    run_module(module, {'replicas': 4, 'dest': dest})
    with open(dest, 'rb') as handle:
        before = handle.read()
    failed, result = run_module(module, dict(args, dest=dest))
    assert failed and words in result['msg']
    with open(dest, 'rb') as handle:
        assert handle.read() == before


def test_profiles_give_a_configmap(run_module):
    profiles = {'t4-x4': {'strategy': 'time_slicing', 'replicas': 4}, 't4-mps': {'strategy': 'mps', 'replicas': 2}}
    failed, result = run_module(module, {'profiles': profiles, 'default_profile': 't4-x4', 'namespace': 'gpu-operator'})
    assert not failed and result['changed'] is False
    assert 'config' not in result
    assert yaml.safe_load(result['configmap']['data']['t4-x4']) == FOUR
    assert result['profiles']['t4-mps']['sharing']['mps']['resources'][0]['replicas'] == 2
    assert result['expected_labels']['t4-mps']['nvidia.com/gpu.sharing-strategy'] == 'mps'


def test_profiles_only_with_dest_writes_the_configmap(run_module, dest):
    failed, result = run_module(module, {'profiles': {'a': {'replicas': 2}}, 'dest': dest})
    assert result['changed'] is True and read(dest)['kind'] == 'ConfigMap'


def test_single_config_and_profiles_together(run_module, dest):
    failed, result = run_module(module, {'replicas': 4, 'dest': dest, 'profiles': {'a': {'replicas': 2}}})
    assert read(dest) == FOUR and 'a' in result['configmap']['data']


def test_resources_suboptions(run_module):
    failed, result = run_module(module, {'replicas': 3, 'rename_by_default': True,
                                         'resources': [{'rename': 'nvidia.com/gpu.shared', 'devices': 'all'}]})
    assert not failed
    assert result['config']['sharing']['timeSlicing'] == {'renameByDefault': True, 'resources': [
        {'name': 'nvidia.com/gpu', 'rename': 'nvidia.com/gpu.shared', 'devices': 'all', 'replicas': 3}]}
    # Renamed: GPU feature discovery leaves -SHARED off the product.
    assert result['expected_labels']['nvidia.com/gpu.sharing-strategy'] == 'time-slicing'


def test_labels_with_the_nodes_gpus(run_module):
    gpus = [{'index': i, 'uuid': 'GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f%d' % i, 'name': 'Tesla T4',
             'compute_capability': '7.5'} for i in range(2)]
    failed, result = run_module(module, {'strategy': 'mps', 'replicas': 4, 'gpus': gpus})
    assert not failed and result['expected_labels'] == {
        'nvidia.com/gpu.sharing-strategy': 'mps', 'nvidia.com/gpu.replicas': '4', 'nvidia.com/mps.capable': 'true',
        'nvidia.com/gpu.product': 'Tesla-T4-SHARED', 'nvidia.com/gpu.count': '2'}
    failed, result = run_module(module, {'strategy': 'mps', 'replicas': 4, 'rename_by_default': True, 'gpus': gpus})
    assert result['expected_labels']['nvidia.com/gpu.product'] == 'Tesla-T4'


def test_flags_from_strings_are_written_as_the_plugin_reads_them(run_module, dest):
    failed, result = run_module(module, {'replicas': 2, 'dest': dest, 'flags': {
        'failOnInitError': 'false', 'plugin': {'passDeviceSpecs': 'yes'}, 'gfd': {'sleepInterval': '5m'}}})
    assert not failed
    assert read(dest)['flags'] == {'failOnInitError': False, 'plugin': {'passDeviceSpecs': True}, 'gfd': {'sleepInterval': '5m'}}


def test_default_profile_needs_profiles(run_module):
    failed, result = run_module(module, {'replicas': 2, 'default_profile': 'x'})
    assert failed and 'default_profile' in result['msg'] and 'profiles' in result['msg']


def test_dest_that_is_a_directory(run_module, tmp_path):
    failed, result = run_module(module, {'replicas': 2, 'dest': str(tmp_path)})
    assert failed and 'is a directory' in result['msg']


def test_missing_yaml(run_module, monkeypatch, dest):
    monkeypatch.setattr(serialize, 'yaml', None)
    failed, result = run_module(module, {'replicas': 2, 'dest': dest})
    assert failed and 'PyYAML' in result['msg']
    # Checking a config on a node without PyYAML still works.
    failed, result = run_module(module, {'replicas': 2})
    assert not failed and result['config']['sharing']['timeSlicing']['resources'][0]['replicas'] == 2
