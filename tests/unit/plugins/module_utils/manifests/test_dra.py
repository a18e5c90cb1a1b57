# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""DRA claims for NVIDIA's DRA driver: every object validates (Kubernetes 1.34 to 1.37, strict),
every GpuConfig validates against a schema written here from NVIDIA's published types."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import jsonschema
import kubernetes_validate
import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ManifestError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import dra, kubernetes

K8S_VERSIONS = ('1.34', '1.35', '1.36', '1.37')
DEVICE_FILE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'sim', 'devices', 't4_dual.json')

# NVIDIA/k8s-dra-driver-gpu, api/nvidia.com/resource/v1beta1 (gpuconfig.go, sharing.go,
# validate.go, api.go): written here from those facts, not from the code under test.
GPU_CONFIG_SCHEMA = {
    'type': 'object',
    'additionalProperties': False,  # the driver decodes opaque configs strictly
    'required': ['apiVersion', 'kind'],
    'properties': {
        'apiVersion': {'const': 'resource.nvidia.com/v1beta1'},
        'kind': {'const': 'GpuConfig'},
        'sharing': {
            'type': 'object',
            'additionalProperties': False,
            'required': ['strategy'],
            'properties': {
                'strategy': {'enum': ['TimeSlicing', 'MPS']},
                'timeSlicingConfig': {
                    'type': 'object', 'additionalProperties': False,
                    # validate.go reads the interval of a present timeSlicingConfig without a nil
                    # check (Normalize fills in only a missing timeSlicingConfig).
                    'required': ['interval'],
                    'properties': {'interval': {'enum': ['Default', 'Short', 'Medium', 'Long']}}},
                'mpsConfig': {
                    'type': 'object', 'additionalProperties': False,
                    'properties': {
                        'defaultActiveThreadPercentage': {'type': 'integer', 'minimum': 0, 'maximum': 100},
                        'defaultPinnedDeviceMemoryLimit': {'type': 'string', 'pattern': '^[0-9]+(Mi|Gi)$'},
                        'defaultPerDevicePinnedMemoryLimit': {
                            'type': 'object', 'additionalProperties': {'type': 'string', 'pattern': '^[0-9]+(Mi|Gi)$'}},
                    }},
            },
            # GetTimeSlicingConfig / GetMpsConfig refuse the other strategy's settings.
            'allOf': [
                {'if': {'properties': {'strategy': {'const': 'TimeSlicing'}}}, 'then': {'not': {'required': ['mpsConfig']}}},
                {'if': {'properties': {'strategy': {'const': 'MPS'}}}, 'then': {'not': {'required': ['timeSlicingConfig']}}},
            ],
        },
    },
}


def two_t4():
    """gpu_info's list for the simulated two-T4 device, read from its device file."""
    with open(DEVICE_FILE) as handle:
        device = json.load(handle)
    return [{'index': n, 'uuid': gpu['uuid'], 'name': gpu['name'], 'memory': {'total': gpu['memory']['total']},
             'compute_capability': '%d.%d' % tuple(gpu['compute_capability']), 'mig_mode': None}
            for n, gpu in enumerate(device['gpus'])]


GPUS = two_t4()
UUID0, UUID1 = GPUS[0]['uuid'], GPUS[1]['uuid']


def render(workloads, kind='Deployment', interval='Default', **plan_options):
    plan = planner.make_plan(GPUS, workloads, **plan_options)
    return kubernetes.workload_objects(plan, kind=kind, namespace='edge', labels={'site': 'plant-7'},
                                       allocation='dra', time_slice_interval=interval)


def by_kind(objects, kind):
    return [obj for obj in objects if obj['kind'] == kind]


def validate_all(objects):
    for obj in objects:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
        if obj['kind'] in ('ResourceClaim', 'ResourceClaimTemplate'):
            spec = obj['spec'] if obj['kind'] == 'ResourceClaim' else obj['spec']['spec']
            for config in spec['devices'].get('config', []):
                assert config['opaque']['driver'] == 'gpu.nvidia.com'
                jsonschema.validate(config['opaque']['parameters'], GPU_CONFIG_SCHEMA)


def claim_spec(obj):
    return obj['spec'] if obj['kind'] == 'ResourceClaim' else obj['spec']['spec']


def pod(obj):
    return obj['spec']['template']['spec']


def env(obj):
    return dict((item['name'], item['value']) for item in pod(obj)['containers'][0].get('env', []))


def pinned_uuids(obj):
    expression = claim_spec(obj)['devices']['requests'][0]['exactly']['selectors'][0]['cel']['expression']
    return [uuid for uuid in (UUID0, UUID1) if uuid in expression], expression


def test_mps_20_and_30_on_gpu_1_share_one_claim_pinned_by_uuid():
    objects = render([
        {'name': 'detector', 'image': 'registry.local/detector:2', 'gpu': 1, 'gpu_percentage': 20, 'gpu_memory': '2G'},
        {'name': 'tracker', 'image': 'registry.local/tracker:2', 'gpu': 1, 'gpu_percentage': 30, 'gpu_memory': '4G'},
    ], gpu_sharing={1: 'mps'})
    validate_all(objects)
    claims = by_kind(objects, 'ResourceClaim')
    assert len(claims) == 1 and not by_kind(objects, 'ResourceClaimTemplate')
    claim = claims[0]
    uuids, expression = pinned_uuids(claim)
    assert uuids == [UUID1] and "device.attributes['gpu.nvidia.com'].uuid" in expression
    request = claim_spec(claim)['devices']['requests'][0]
    assert request['exactly']['deviceClassName'] == 'gpu.nvidia.com' and request['exactly'].get('count', 1) == 1
    config = claim_spec(claim)['devices']['config'][0]['opaque']['parameters']
    assert config['sharing']['strategy'] == 'MPS'
    # One MPS daemon per claim: its defaults are the largest share and limit; the client below
    # them lowers its own (the variables only further constrain the daemon's defaults).
    assert config['sharing']['mpsConfig'] == {'defaultActiveThreadPercentage': 30, 'defaultPinnedDeviceMemoryLimit': '4Gi'}
    workloads = dict((obj['metadata']['name'], obj) for obj in by_kind(objects, 'Deployment'))
    assert env(workloads['detector']) == {'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '20',
                                          'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT': '0=2G'}
    assert env(workloads['tracker']) == {}
    for obj in workloads.values():
        spec = pod(obj)
        assert spec['resourceClaims'] == [{'name': 'gpu', 'resourceClaimName': claim['metadata']['name']}]
        container = spec['containers'][0]
        assert container['resources'] == {'claims': [{'name': 'gpu', 'request': 'gpu'}]}
        assert 'hostIPC' not in spec and 'volumes' not in spec and 'volumeMounts' not in container
    assert claim['metadata']['namespace'] == 'edge' and claim['metadata']['labels']['site'] == 'plant-7'


def test_one_mps_workload_gets_a_template_with_its_own_defaults():
    objects = render([{'name': 'solo', 'image': 'registry.local/solo:1', 'gpu_percentage': 40, 'gpu_memory': '1G'}],
                     sharing='mps', kind='Job')
    validate_all(objects)
    template = by_kind(objects, 'ResourceClaimTemplate')
    assert len(template) == 1 and not by_kind(objects, 'ResourceClaim')
    config = claim_spec(template[0])['devices']['config'][0]['opaque']['parameters']
    mps = {'defaultActiveThreadPercentage': 40, 'defaultPinnedDeviceMemoryLimit': '1Gi'}
    assert config['sharing'] == {'strategy': 'MPS', 'mpsConfig': mps}
    job = by_kind(objects, 'Job')[0]
    assert pod(job)['resourceClaims'] == [{'name': 'gpu', 'resourceClaimTemplateName': template[0]['metadata']['name']}]
    assert env(job) == {}
    assert pinned_uuids(template[0])[0] == [UUID0]


def test_time_sliced_pair_shares_one_claim():
    objects = render([{'name': 'a', 'image': 'registry.local/a:1', 'gpu': 0},
                      {'name': 'b', 'image': 'registry.local/b:1', 'gpu': 0}], interval='Long')
    validate_all(objects)
    claims = by_kind(objects, 'ResourceClaim')
    assert len(claims) == 1
    assert pinned_uuids(claims[0])[0] == [UUID0]
    config = claim_spec(claims[0])['devices']['config'][0]['opaque']['parameters']
    assert config['sharing'] == {'strategy': 'TimeSlicing', 'timeSlicingConfig': {'interval': 'Long'}}
    names = [pod(obj)['resourceClaims'][0]['resourceClaimName'] for obj in by_kind(objects, 'Deployment')]
    assert names == [claims[0]['metadata']['name']] * 2
    for obj in by_kind(objects, 'Deployment'):
        assert 'NVIDIA_VISIBLE_DEVICES' not in env(obj)


def test_reserved_gpu_is_never_referenced():
    objects = render([{'name': 'n%d' % n, 'image': 'registry.local/n:1'} for n in range(3)]
                     + [{'name': 'cpu', 'image': 'registry.local/cpu:1', 'gpu': 'none'}], reserved_gpus=[0])
    validate_all(objects)
    text = json.dumps(objects)
    assert UUID0 not in text and UUID0.lower() not in text
    assert [pinned_uuids(obj)[0] for obj in by_kind(objects, 'ResourceClaim')] == [[UUID1]]
    cpu = [obj for obj in objects if obj['metadata']['name'] == 'cpu'][0]
    assert 'resourceClaims' not in pod(cpu) and env(cpu) == {'NVIDIA_VISIBLE_DEVICES': 'void'}


def test_unshared_gpus_get_a_template_without_sharing_config_and_all_gpus_one_claim():
    objects = render([{'name': 'whole', 'image': 'registry.local/w:1', 'gpu': 'all'}], sharing='none')
    validate_all(objects)
    template = by_kind(objects, 'ResourceClaimTemplate')[0]
    devices = claim_spec(template)['devices']
    assert 'config' not in devices
    assert devices['requests'][0]['exactly']['count'] == 2
    assert pinned_uuids(template)[0] == [UUID0, UUID1]


def test_mixed_mps_and_time_slicing_per_gpu():
    objects = render([
        {'name': 'm1', 'image': 'registry.local/m:1', 'gpu_percentage': 25},
        {'name': 'm2', 'image': 'registry.local/m:1', 'gpu_percentage': 25},
        {'name': 't1', 'image': 'registry.local/t:1', 'gpu': 0},
    ], gpu_sharing={0: 'time_slicing', 1: 'mps'})
    validate_all(objects)
    claims = dict((pinned_uuids(obj)[0][0], obj) for obj in objects if obj['kind'].startswith('ResourceClaim'))
    assert claim_spec(claims[UUID1])['devices']['config'][0]['opaque']['parameters']['sharing'] == {
        'strategy': 'MPS', 'mpsConfig': {'defaultActiveThreadPercentage': 25}}
    assert claims[UUID0]['kind'] == 'ResourceClaimTemplate'
    # Time-slicing at the Default interval is the driver's own default: no config, so the claim
    # also works where the driver's alpha TimeSlicingSettings gate is off.
    assert 'config' not in claim_spec(claims[UUID0])['devices']


def test_a_time_slice_interval_other_than_default_is_written():
    objects = render([{'name': 'solo', 'image': 'registry.local/solo:1'}], interval='Short')
    validate_all(objects)
    config = claim_spec(by_kind(objects, 'ResourceClaimTemplate')[0])['devices']['config'][0]['opaque']['parameters']
    assert config['sharing'] == {'strategy': 'TimeSlicing', 'timeSlicingConfig': {'interval': 'Short'}}


def test_fractional_and_unlimited_mps_clients_lower_only_their_own_share():
    objects = render([{'name': 'full', 'image': 'registry.local/f:1', 'gpu': 1},
                      {'name': 'part', 'image': 'registry.local/p:1', 'gpu': 1, 'gpu_percentage': '12.5'}],
                     gpu_sharing={1: 'mps'}, oversubscribe=True)
    validate_all(objects)
    claim = by_kind(objects, 'ResourceClaim')[0]
    # A client without a share takes the whole GPU: the claim keeps the daemon's default (100).
    assert claim_spec(claim)['devices']['config'][0]['opaque']['parameters']['sharing']['mpsConfig'] == {}
    workloads = dict((obj['metadata']['name'], obj) for obj in by_kind(objects, 'Deployment'))
    assert env(workloads['part']) == {'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '12.5'} and env(workloads['full']) == {}


def test_every_object_name_is_distinct_from_the_workloads():
    objects = render([{'name': 'a', 'image': 'registry.local/a:1', 'gpu': 0},
                      {'name': 'b', 'image': 'registry.local/b:1', 'gpu': 1}])
    names = [obj['metadata']['name'] for obj in objects]
    assert len(set(names)) == len(names) == 4


@pytest.mark.parametrize('workloads, options, words', [
    # A workload on both GPUs plus one on GPU 1: GPU 1 would have to be in two claims.
    ([{'name': 'wide', 'image': 'r/w:1', 'gpu': 'all'}, {'name': 'narrow', 'image': 'r/n:1', 'gpu': 1}], {},
     ["workload 'wide'", 'narrow', 'GPU 1 (%s)' % UUID1, 'one claim']),
    ([{'name': 'odd', 'image': 'r/o:1', 'gpu_percentage': 10, 'gpu_memory': '1536K'}], {'sharing': 'mps'},
     ["workload 'odd'", 'whole number of MiB', 'GPU 0']),
])
def test_plans_dra_cannot_express_are_refused(workloads, options, words):
    with pytest.raises(ManifestError) as error:
        render(workloads, **options)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize('call, words', [
    (lambda plan: kubernetes.workload_objects(plan, allocation='dra', gpu_resource='nvidia.com/gpu'),
     ["gpu_resource 'nvidia.com/gpu'", 'allocation is dra']),
    (lambda plan: kubernetes.workload_objects(plan, allocation='claims'), ["allocation must be device_plugin or dra, got 'claims'"]),
    (lambda plan: kubernetes.workload_objects(plan, allocation='dra', time_slice_interval='Tiny'),
     ["time_slice_interval must be one of Default, Short, Medium, Long", "'Tiny'"]),
])
def test_bad_options_are_named(call, words):
    plan = planner.make_plan(GPUS, [{'name': 'a', 'image': 'r/a:1'}])
    with pytest.raises(ManifestError) as error:
        call(plan)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize('config, words', [
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig', 'sharing': {'strategy': 'Mps'}}, ["'Mps'"]),
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
      'sharing': {'strategy': 'MPS', 'mpsConfig': {'defaultActiveThreadPercentage': 101}}}, ['1 to 100', '101']),
    # NVIDIA's MPS control daemon (535, build/nvidia) answers set_default_active_thread_percentage 0
    # by logging "Invalid percentage, expected between (0.0, 100.0]" and keeping 100.0.
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
      'sharing': {'strategy': 'MPS', 'mpsConfig': {'defaultActiveThreadPercentage': 0}}}, ['1 to 100', 'got 0']),
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
      'sharing': {'strategy': 'MPS', 'mpsConfig': {'defaultActiveThreadPercentage': 12.5}}}, ['whole number']),
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
      'sharing': {'strategy': 'TimeSlicing', 'timeSlicingConfig': {'interval': 'Fast'}}}, ["'Fast'"]),
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
      'sharing': {'strategy': 'TimeSlicing', 'mpsConfig': {}}}, ['takes no mpsConfig']),
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
      'sharing': {'strategy': 'MPS', 'mpsConfig': {'defaultPinnedDeviceMemoryLimit': '512Ki'}}}, ['under 1Mi']),
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
      'sharing': {'strategy': 'MPS', 'mpsConfig': {'defaultPerDevicePinnedMemoryLimit': {'gpu0': '1Gi'}}}},
     ["'gpu0'"]),
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
      'sharing': {'strategy': 'TimeSlicing', 'timeSlicingConfig': {}}}, ['timeSlicingConfig needs an interval']),
    ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig', 'extra': 1}, ['unknown fields extra']),
    ({'apiVersion': 'resource.nvidia.com/v1', 'kind': 'GpuConfig'}, ['apiVersion/kind']),
])
def test_gpu_config_validator_refuses_what_the_driver_refuses(config, words):
    # The same configs break the schema written from NVIDIA's types (except the MiB floor,
    # which is the driver's Normalize, not its types, and percentage 0, which the daemon refuses).
    with pytest.raises(ManifestError) as error:
        dra.validate_gpu_config(config)
    for word in words:
        assert word in str(error.value)


def test_gpu_config_validator_accepts_the_drivers_examples():
    for config in ({'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig'},
                   {'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig', 'sharing': {'strategy': 'TimeSlicing'}},
                   {'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
                    'sharing': {'strategy': 'MPS', 'mpsConfig': {
                        'defaultActiveThreadPercentage': 50, 'defaultPinnedDeviceMemoryLimit': '10Gi',
                        'defaultPerDevicePinnedMemoryLimit': {'0': '5Gi'}}}},
                   {'apiVersion': 'resource.nvidia.com/v1beta1', 'kind': 'GpuConfig',
                    'sharing': {'strategy': 'TimeSlicing', 'timeSlicingConfig': {'interval': 'Short'}}}):
        assert dra.validate_gpu_config(config) is config
        jsonschema.validate(config, GPU_CONFIG_SCHEMA)


MPS_PAIR = [
    {'name': 'detector', 'image': 'registry.local/detector:2', 'gpu': 1, 'gpu_percentage': 20, 'gpu_memory': '2G'},
    {'name': 'tracker', 'image': 'registry.local/tracker:2', 'gpu': 1, 'gpu_percentage': 30, 'gpu_memory': '4G'},
]


def claim_names(objects):
    return sorted(obj['metadata']['name'] for obj in objects if obj['kind'].startswith('ResourceClaim'))


def test_claim_names_follow_their_spec_because_kubernetes_refuses_changing_it():
    # resource.k8s.io: the spec of a ResourceClaim and of a ResourceClaimTemplate is immutable, so
    # the same plan must give the same names (idempotent files) and a changed plan new names that
    # the pods follow (an update in place would be refused by the API server).
    first = render(MPS_PAIR, gpu_sharing={1: 'mps'})
    assert claim_names(first) == claim_names(render(MPS_PAIR, gpu_sharing={1: 'mps'}))
    changed = render([MPS_PAIR[0], dict(MPS_PAIR[1], gpu_percentage=35)], gpu_sharing={1: 'mps'})
    validate_all(changed)
    assert len(claim_names(first)) == len(claim_names(changed)) == 1
    assert claim_names(first) != claim_names(changed)
    for obj in by_kind(changed, 'Deployment'):
        assert pod(obj)['resourceClaims'][0]['resourceClaimName'] == claim_names(changed)[0]
    # The same for a workload's own template (here: its memory limit changes).
    solo = [{'name': 'solo', 'image': 'registry.local/solo:1', 'gpu_percentage': 40, 'gpu_memory': '1G'}]
    before = render(solo, sharing='mps')
    after = render([dict(solo[0], gpu_memory='2G')], sharing='mps')
    assert len(claim_names(before)) == 1 and claim_names(before) != claim_names(after)
    assert claim_names(after) == [pod(by_kind(after, 'Deployment')[0])['resourceClaims'][0]['resourceClaimTemplateName']]


def test_deployments_that_name_a_claim_are_recreated_not_rolled():
    # A Deployment of one replica rolls by default with maxSurge 1 and maxUnavailable 0 (25 %
    # rounded up and down): the new pod would need the GPU that the old pod's claim holds, and the
    # old pod stays until the new one is ready. Kubernetes' other strategy is Recreate.
    objects = render(MPS_PAIR + [{'name': 'recorder', 'image': 'registry.local/recorder:1', 'gpu': 0},
                                 {'name': 'cpu', 'image': 'registry.local/cpu:1', 'gpu': 'none'}],
                     gpu_sharing={1: 'mps'})
    validate_all(objects)
    deployments = dict((obj['metadata']['name'], obj['spec']) for obj in by_kind(objects, 'Deployment'))
    for name in ('detector', 'tracker', 'recorder'):
        assert deployments[name]['strategy'] == {'type': 'Recreate'}
    assert 'strategy' not in deployments['cpu']
    plan = planner.make_plan(GPUS, MPS_PAIR, gpu_sharing={1: 'mps'})
    for obj in kubernetes.workload_objects(plan):
        assert 'strategy' not in obj['spec']


def test_workloads_on_the_same_gpus_share_one_claim_for_all_of_them():
    # One claim may hold several GPUs and be named by several pods: workloads on exactly the same
    # GPUs need no GPU in two claims.
    objects = render([{'name': 'a', 'image': 'registry.local/a:1', 'gpu': 'all', 'gpu_percentage': 30},
                      {'name': 'b', 'image': 'registry.local/b:1', 'gpu': 'all', 'gpu_percentage': 20}], sharing='mps')
    validate_all(objects)
    claims = by_kind(objects, 'ResourceClaim')
    assert len(claims) == 1 and not by_kind(objects, 'ResourceClaimTemplate')
    assert pinned_uuids(claims[0])[0] == [UUID0, UUID1]
    assert claim_spec(claims[0])['devices']['requests'][0]['exactly']['count'] == 2
    assert claim_spec(claims[0])['devices']['config'][0]['opaque']['parameters']['sharing']['mpsConfig'] == {
        'defaultActiveThreadPercentage': 30}
    workloads = dict((obj['metadata']['name'], obj) for obj in by_kind(objects, 'Deployment'))
    for obj in workloads.values():
        assert pod(obj)['resourceClaims'] == [{'name': 'gpu', 'resourceClaimName': claims[0]['metadata']['name']}]
    assert env(workloads['a']) == {} and env(workloads['b']) == {'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '20'}
