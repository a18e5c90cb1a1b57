# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.edge_gpu.sharing.plugins.filter.gpu_plan import FilterModule
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import serialize
from ansible_collections.edge_gpu.sharing.plugins.modules import iotedge_manifest, k8s_gpu_workload

GPUS = [{'index': 0, 'uuid': 'GPU-5f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8', 'name': 'Tesla T4', 'compute_capability': '7.5',
         'memory': {'total': 16106127360}, 'mig_mode': None}]
WORKLOADS = [{'name': 'detector', 'image': 'registry.local/detector:1', 'gpu_percentage': 20, 'gpu_memory': '2G'},
             {'name': 'tracker', 'image': 'registry.local/tracker:1', 'gpu_percentage': 30}]


def args(**more):
    return dict(gpus=GPUS, sharing='mps', workloads=WORKLOADS, **more)


def test_k8s_directory_written_once_then_unchanged(run_module, tmp_path):
    dest = str(tmp_path / 'out')
    failed, result = run_module(k8s_gpu_workload, args(dest=dest))
    assert not failed and result['changed'] is True
    assert sorted(os.listdir(dest)) == ['detector.yaml', 'tracker.yaml']
    with open(os.path.join(dest, 'detector.yaml')) as handle:
        assert yaml.safe_load(handle) == result['objects'][0]
    failed, result = run_module(k8s_gpu_workload, args(dest=dest))
    assert result['changed'] is False


def test_k8s_multi_document_file_and_diff(run_module, tmp_path):
    dest = str(tmp_path / 'workloads.yaml')
    run_module(k8s_gpu_workload, args(dest=dest))
    changed = [dict(WORKLOADS[0], gpu_percentage=25), WORKLOADS[1]]
    failed, result = run_module(k8s_gpu_workload, dict(args(dest=dest, _ansible_diff=True), workloads=changed))
    assert result['changed'] is True
    assert "value: '20'" in result['diff'][0]['before'] and "value: '25'" in result['diff'][0]['after']
    with open(dest) as handle:
        assert [doc['metadata']['name'] for doc in yaml.safe_load_all(handle)] == ['detector', 'tracker']


def test_k8s_check_mode_writes_nothing(run_module, tmp_path):
    dest = str(tmp_path / 'out')
    failed, result = run_module(k8s_gpu_workload, args(dest=dest), check_mode=True)
    assert result['changed'] is True and result['files'] == [os.path.join(dest, 'detector.yaml'), os.path.join(dest, 'tracker.yaml')]
    assert not os.path.exists(dest)


def test_k8s_returns_objects_without_dest(run_module):
    failed, result = run_module(k8s_gpu_workload, args(kind='Job'))
    assert not failed and result['changed'] is False and [o['kind'] for o in result['objects']] == ['Job', 'Job']
    assert result['plan']['gpus'][0]['percentage'] == 50.0


@pytest.mark.parametrize('module', [k8s_gpu_workload, iotedge_manifest])
def test_plan_failure_writes_nothing(run_module, tmp_path, module):
    dest = str(tmp_path / 'out.yaml')
    failed, result = run_module(module, dict(args(dest=dest), workloads=WORKLOADS + [
        {'name': 'big', 'image': 'registry.local/big:1', 'gpu_percentage': 80}]))
    assert failed and "workload 'big': does not fit" in result['msg']
    assert not os.path.exists(dest)


def test_k8s_bad_option(run_module):
    failed, result = run_module(k8s_gpu_workload, args(namespace='Not Valid'))
    assert failed and "namespace 'Not Valid'" in result['msg']


def test_k8s_missing_yaml(run_module, tmp_path, monkeypatch):
    monkeypatch.setattr(serialize, 'yaml', None)
    failed, result = run_module(k8s_gpu_workload, args(dest=str(tmp_path)))
    assert failed and 'PyYAML' in result['msg']


def test_iotedge_written_private_once_then_unchanged(run_module, tmp_path):
    dest = str(tmp_path / 'deployment.json')
    creds = {'myacr': {'address': 'myacr.azurecr.io', 'username': 'edge', 'password': 's3cr3t-Pa55'}}
    failed, result = run_module(iotedge_manifest, args(dest=dest, registry_credentials=creds))
    assert not failed and result['changed'] is True
    with open(dest) as handle:
        written = json.load(handle)
    assert written['modulesContent']['$edgeAgent']['properties.desired']['runtime']['settings']['registryCredentials'] == creds
    assert os.stat(dest).st_mode & 0o777 == 0o600
    assert 's3cr3t-Pa55' not in json.dumps(result)
    failed, result = run_module(iotedge_manifest, args(dest=dest, registry_credentials=creds))
    assert result['changed'] is False


def test_iotedge_check_mode(run_module, tmp_path):
    dest = str(tmp_path / 'deployment.json')
    failed, result = run_module(iotedge_manifest, args(dest=dest), check_mode=True)
    assert result['changed'] is True and not os.path.exists(dest)


def test_iotedge_bad_option(run_module):
    failed, result = run_module(iotedge_manifest, args(routes={'a.b': 'FROM /* INTO $upstream'}))
    assert failed and "'a.b'" in result['msg']


def test_gpu_plan_filter():
    gpu_plan = FilterModule().filters()['gpu_plan']
    plan = gpu_plan(GPUS, WORKLOADS, sharing='mps')
    assert [w['env']['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] for w in plan['workloads']] == ['20', '30']
    with pytest.raises(AnsibleFilterError) as info:
        gpu_plan(GPUS, WORKLOADS)
    assert "workload 'detector'" in str(info.value) and "workload 'tracker'" in str(info.value)


def test_k8s_prunes_files_of_workloads_no_longer_planned(run_module, tmp_path):
    dest = str(tmp_path / 'out')
    run_module(k8s_gpu_workload, args(dest=dest))
    with open(os.path.join(dest, 'README.yaml'), 'w') as handle:
        handle.write('note: not ours\n')
    with open(os.path.join(dest, 'broken.yaml'), 'w') as handle:
        handle.write('{{ not yaml\n')
    only_detector = dict(args(dest=dest), workloads=WORKLOADS[:1])
    failed, result = run_module(k8s_gpu_workload, dict(only_detector), check_mode=True)
    assert result['changed'] is True and result['removed'] == [os.path.join(dest, 'tracker.yaml')]
    assert os.path.exists(os.path.join(dest, 'tracker.yaml'))
    failed, result = run_module(k8s_gpu_workload, dict(only_detector, _ansible_diff=True))
    assert result['removed'] == [os.path.join(dest, 'tracker.yaml')]
    assert result['diff'][-1]['after'] == '' and 'tracker' in result['diff'][-1]['before']
    assert sorted(os.listdir(dest)) == ['README.yaml', 'broken.yaml', 'detector.yaml']
    failed, result = run_module(k8s_gpu_workload, only_detector)
    assert result['changed'] is False and result['removed'] == []


def test_k8s_prune_can_be_turned_off(run_module, tmp_path):
    dest = str(tmp_path / 'out')
    run_module(k8s_gpu_workload, args(dest=dest))
    failed, result = run_module(k8s_gpu_workload, dict(args(dest=dest, prune=False), workloads=WORKLOADS[:1]))
    assert result['changed'] is False and result['removed'] == []
    assert sorted(os.listdir(dest)) == ['detector.yaml', 'tracker.yaml']


TWO_GPUS = GPUS + [{'index': 1, 'uuid': 'GPU-6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d', 'name': 'Tesla T4',
                    'compute_capability': '7.5', 'memory': {'total': 16106127360}, 'mig_mode': None}]


@pytest.mark.parametrize('module', [k8s_gpu_workload, iotedge_manifest])
def test_gpu_sharing_and_settings_through_the_module(run_module, module):
    workloads = [{'name': 'camera', 'image': 'registry.local/camera:1', 'gpu': 0},
                 {'name': 'detector', 'image': 'registry.local/detector:1', 'gpu_percentage': 40, 'host_pid': True},
                 {'name': 'uploader', 'image': 'registry.local/uploader:1', 'gpu': 'none'}]
    failed, result = run_module(module, dict(gpus=TWO_GPUS, gpu_sharing={'1': 'mps'}, workloads=workloads))
    assert not failed, result
    by_name = dict((w['name'], w) for w in result['plan']['workloads'])
    assert [g['sharing'] for g in result['plan']['gpus']] == ['time_slicing', 'mps']
    assert by_name['camera']['env'] == {'NVIDIA_VISIBLE_DEVICES': '0'}
    assert by_name['detector']['gpus'] == [1] and by_name['detector']['settings'] == {'host_pid': True}
    assert by_name['uploader']['env'] == {'NVIDIA_VISIBLE_DEVICES': 'void'} and by_name['uploader']['sharing'] is None


def test_module_refuses_unknown_workload_keys(run_module):
    failed, result = run_module(k8s_gpu_workload, dict(args(), workloads=[dict(WORKLOADS[0], hostPID=True)]))
    assert failed and 'hostPID' in result['msg']


def test_iotedge_empty_workloads_need_allow_empty(run_module, tmp_path):
    dest = str(tmp_path / 'deployment.json')
    run_module(iotedge_manifest, args(dest=dest))
    with open(dest) as handle:
        before = handle.read()
    failed, result = run_module(iotedge_manifest, dict(args(dest=dest), workloads=[]))
    assert failed and 'workloads is empty' in result['msg'] and 'allow_empty' in result['msg']
    assert result['error_kind'] == 'manifest'
    with open(dest) as handle:
        assert handle.read() == before
    failed, result = run_module(iotedge_manifest, dict(args(dest=dest, allow_empty=True), workloads=[]))
    assert not failed and result['changed'] is True
    assert result['manifest']['modulesContent']['$edgeAgent']['properties.desired']['modules'] == {}


def test_k8s_empty_workloads_do_not_prune_without_allow_empty(run_module, tmp_path):
    dest = str(tmp_path / 'out')
    run_module(k8s_gpu_workload, args(dest=dest))
    failed, result = run_module(k8s_gpu_workload, dict(args(dest=dest), workloads=[]))
    assert failed and 'workloads is empty' in result['msg'] and 'allow_empty' in result['msg']
    assert result['error_kind'] == 'invalid_option'
    assert sorted(os.listdir(dest)) == ['detector.yaml', 'tracker.yaml']
    # Without pruning nothing would be removed, so an empty list is harmless.
    failed, result = run_module(k8s_gpu_workload, dict(args(dest=dest, prune=False), workloads=[]))
    assert not failed and result['changed'] is False
    # A multi-document file would be emptied.
    failed, result = run_module(k8s_gpu_workload, dict(args(dest=str(tmp_path / 'all.yaml')), workloads=[]))
    assert failed and 'allow_empty' in result['msg']
    failed, result = run_module(k8s_gpu_workload, dict(args(dest=dest, allow_empty=True), workloads=[]))
    assert not failed and result['changed'] is True and len(result['removed']) == 2
    assert os.listdir(dest) == []
    # Without dest nothing is written or removed: an empty list just renders nothing.
    failed, result = run_module(k8s_gpu_workload, dict(args(), workloads=[]))
    assert not failed and result['objects'] == []


def test_gpu_plan_filter_takes_gpu_sharing():
    gpu_plan = FilterModule().filters()['gpu_plan']
    plan = gpu_plan(TWO_GPUS, [{'name': 'a', 'image': 'registry.local/a:1', 'gpu_percentage': 20}], gpu_sharing={1: 'mps'})
    assert plan['workloads'][0]['gpus'] == [1] and plan['mps_pipe_directory'] == '/tmp/nvidia-mps'
    with pytest.raises(AnsibleFilterError) as info:
        gpu_plan(TWO_GPUS, [{'name': 'a', 'image': 'registry.local/a:1', 'gpu': 0, 'gpu_percentage': 20}],
                 gpu_sharing={1: 'mps'})
    assert "workload 'a'" in str(info.value) and 'GPU 0' in str(info.value) and 'sharing time_slicing' in str(info.value)


# ---- allocation: dra ----------------------------------------------------------------------

DRA_GPUS = [dict(GPUS[0]), dict(GPUS[0], index=1, uuid='GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7')]
DRA_WORKLOADS = [{'name': 'detector', 'image': 'registry.local/detector:2', 'gpu': 1, 'gpu_percentage': 20},
                 {'name': 'tracker', 'image': 'registry.local/tracker:2', 'gpu': 1, 'gpu_percentage': 30}]


def dra_args(**more):
    return dict(dict(gpus=DRA_GPUS, gpu_sharing={'1': 'mps'}, workloads=DRA_WORKLOADS, allocation='dra'), **more)


def read_dir(dest):
    contents = {}
    for name in sorted(os.listdir(dest)):
        with open(os.path.join(dest, name)) as handle:
            contents[name] = handle.read()
    return contents


def test_k8s_dra_directory_written_once_then_unchanged_with_diff(run_module, tmp_path):
    dest = str(tmp_path / 'out')
    failed, result = run_module(k8s_gpu_workload, dra_args(dest=dest, _ansible_diff=True))
    assert not failed and result['changed'] is True
    claims = [name for name in os.listdir(dest) if name.startswith('shared.' + DRA_GPUS[1]['uuid'].lower() + '.')]
    assert len(claims) == 1
    assert sorted(os.listdir(dest)) == sorted(['detector.yaml', 'tracker.yaml'] + claims)
    with open(os.path.join(dest, claims[0])) as handle:
        written = yaml.safe_load(handle)
    assert written['kind'] == 'ResourceClaim' and DRA_GPUS[1]['uuid'] in json.dumps(written)
    assert any(DRA_GPUS[1]['uuid'] in item['after'] for item in result['diff'])
    before = read_dir(dest)
    failed, result = run_module(k8s_gpu_workload, dra_args(dest=dest))
    assert not failed and result['changed'] is False and read_dir(dest) == before


def test_k8s_dra_check_mode_writes_nothing(run_module, tmp_path):
    dest = str(tmp_path / 'out')
    failed, result = run_module(k8s_gpu_workload, dra_args(dest=dest), check_mode=True)
    assert not failed and result['changed'] is True and len(result['files']) == 3
    assert not os.path.exists(dest)
    # Switching an existing device_plugin directory to dra in check mode changes nothing either.
    run_module(k8s_gpu_workload, dra_args(dest=dest, allocation='device_plugin'))
    before = read_dir(dest)
    failed, result = run_module(k8s_gpu_workload, dra_args(dest=dest), check_mode=True)
    assert result['changed'] is True and read_dir(dest) == before


def test_k8s_dra_prunes_a_claim_no_longer_planned(run_module, tmp_path):
    dest = str(tmp_path / 'out')
    run_module(k8s_gpu_workload, dra_args(dest=dest))
    shared = [name for name in os.listdir(dest) if name.startswith('shared.')]
    failed, result = run_module(k8s_gpu_workload, dra_args(dest=dest, workloads=DRA_WORKLOADS[:1]))
    assert not failed and result['changed'] is True
    template = [name for name in os.listdir(dest) if name.startswith('detector.gpu.')]
    assert len(shared) == 1 and len(template) == 1
    assert sorted(os.listdir(dest)) == sorted(template + ['detector.yaml'])
    assert [os.path.basename(path) for path in result['removed']] == shared + ['tracker.yaml']


def test_k8s_dra_a_changed_plan_writes_a_new_claim_and_prunes_the_old(run_module, tmp_path):
    # Kubernetes refuses any change to a ResourceClaim's spec (immutable): the claim of a changed
    # plan must be a new object the pods name, and the old file must go, or applying the
    # directory fails on the old claim.
    dest = str(tmp_path / 'out')
    run_module(k8s_gpu_workload, dra_args(dest=dest))
    old = [name for name in os.listdir(dest) if name.startswith('shared.')]
    with open(os.path.join(dest, old[0])) as handle:
        old_spec = yaml.safe_load(handle)['spec']
    changed = [dict(DRA_WORKLOADS[0]), dict(DRA_WORKLOADS[1], gpu_percentage=40)]
    failed, result = run_module(k8s_gpu_workload, dra_args(dest=dest, workloads=changed))
    assert not failed and result['changed'] is True
    new = [name for name in os.listdir(dest) if name.startswith('shared.')]
    assert len(old) == len(new) == 1 and old != new
    assert [os.path.basename(path) for path in result['removed']] == old
    with open(os.path.join(dest, new[0])) as handle:
        claim = yaml.safe_load(handle)
    assert claim['spec'] != old_spec
    assert claim['spec']['devices']['config'][0]['opaque']['parameters']['sharing']['mpsConfig'] == {
        'defaultActiveThreadPercentage': 40}
    for workload in ('detector', 'tracker'):
        with open(os.path.join(dest, workload + '.yaml')) as handle:
            pod = yaml.safe_load(handle)['spec']['template']['spec']
        assert pod['resourceClaims'] == [{'name': 'gpu', 'resourceClaimName': claim['metadata']['name']}]


@pytest.mark.parametrize('more, words', [
    ({'allocation': 'claims'}, ['allocation', 'claims']),
    ({'time_slice_interval': 'Fast'}, ['time_slice_interval', 'Fast']),
    ({'gpu_resource': 'nvidia.com/gpu'}, ["gpu_resource 'nvidia.com/gpu'", 'allocation is dra']),
    ({'workloads': [{'name': 'wide', 'image': 'r/w:1', 'gpu': 'all'}, {'name': 'narrow', 'image': 'r/n:1', 'gpu': 1}],
      'gpu_sharing': None}, ["workload 'wide'", 'narrow', 'one claim']),
])
def test_k8s_dra_bad_values_write_nothing(run_module, tmp_path, more, words):
    dest = str(tmp_path / 'out')
    failed, result = run_module(k8s_gpu_workload, dra_args(dest=dest, **more))
    assert failed
    for word in words:
        assert word in result['msg']
    assert not os.path.exists(dest)
