# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import jsonschema
import kubernetes_validate
import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import iotedge, kubernetes

GPUS = [{'index': 0, 'uuid': 'GPU-5f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8', 'name': 'Tesla T4', 'compute_capability': '7.5',
         'memory': {'total': 16106127360}, 'mig_mode': None}]
NBODY = 'nvcr.io/nvidia/k8s/cuda-sample:nbody'


def nbody_plan(sharing):
    workloads = [{'name': 'nbody%d' % n, 'image': NBODY, 'args': ['nbody', '-gpu', '-benchmark'], 'gpu': 0} for n in (1, 2)]
    if sharing == 'mps':
        workloads[0]['gpu_percentage'], workloads[1]['gpu_percentage'] = 30, 70
    return planner.make_plan(GPUS, workloads, sharing)


LONG_LABELS = dict(('label%03d' % n, 'x' * 20) for n in range(60))


def iotedge_manifest_with_credentials(sharing):
    return iotedge.manifest(nbody_plan(sharing), registry_credentials={
        'myacr': {'address': 'myacr.azurecr.io', 'username': 'u', 'password': 'p"w\\d'}})


# Manifests the tests below check with check_iotedge_manifest, cross-checked against
# SchemaStore's schema where ../shared is present (skipped, naming the path, where it is not).
REFERENCE_CASES = {
    'time_slicing': lambda: iotedge_manifest_with_credentials('time_slicing'),
    'mps': lambda: iotedge_manifest_with_credentials('mps'),
    'long_create_options': lambda: iotedge.manifest(nbody_plan('mps'), create_options={'nbody1': {'Labels': LONG_LABELS}}),
}


@pytest.mark.parametrize('kind', ['Job', 'Deployment'])
@pytest.mark.parametrize('sharing', ['time_slicing', 'mps'])
def test_kubernetes_objects_validate(kind, sharing):
    objects = kubernetes.workload_objects(nbody_plan(sharing), kind, 'edge', {'site': 'plant-7'}, None, 'nvidia')
    assert [obj['kind'] for obj in objects] == [kind, kind]
    for obj in objects:
        kubernetes_validate.validate(obj, '1.33', strict=True)
        pod = obj['spec']['template']['spec']
        env = dict((item['name'], item['value']) for item in pod['containers'][0]['env'])
        assert env['NVIDIA_VISIBLE_DEVICES'] == '0'
        assert pod['runtimeClassName'] == 'nvidia'
        assert obj['metadata']['labels']['site'] == 'plant-7'
        if sharing == 'mps':
            assert pod['hostIPC'] is True
            assert pod['volumes'][0]['hostPath']['path'] == '/tmp/nvidia-mps'
            assert pod['containers'][0]['volumeMounts'][0]['mountPath'] == '/tmp/nvidia-mps'
        else:
            assert 'hostIPC' not in pod and 'volumes' not in pod
    if sharing == 'mps':
        percentages = [dict((i['name'], i['value']) for i in o['spec']['template']['spec']['containers'][0]['env'])
                       ['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] for o in objects]
        assert percentages == ['30', '70']


def test_gpu_resource_leaves_the_gpu_to_the_device_plugin():
    obj = kubernetes.workload_objects(nbody_plan('time_slicing'), gpu_resource='nvidia.com/gpu')[0]
    container = obj['spec']['template']['spec']['containers'][0]
    assert container['resources'] == {'limits': {'nvidia.com/gpu': 1}}
    assert 'NVIDIA_VISIBLE_DEVICES' not in [item['name'] for item in container['env']]
    kubernetes_validate.validate(obj, '1.33', strict=True)


@pytest.mark.parametrize('kwargs, words', [
    ({'kind': 'Pod'}, "kind must be Deployment or Job, got 'Pod'"),
    ({'namespace': 'Edge Site'}, "namespace 'Edge Site'"),
    ({'labels': {'bad key!': 'x'}}, "'bad key!' is not a valid label key"),
    ({'labels': {'site': 'a b'}}, "'a b' is not a valid value for label site"),
    ({'gpu_resource': 'gpu'}, "gpu_resource 'gpu'"),
    ({'runtime_class': 'NVIDIA'}, "runtime_class 'NVIDIA'"),
])
def test_kubernetes_option_rejections(kwargs, words):
    with pytest.raises(kubernetes.ManifestError) as info:
        kubernetes.workload_objects(nbody_plan('time_slicing'), **kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize('sharing', ['time_slicing', 'mps'])
def test_iotedge_manifest_validates_and_carries_the_plan(check_iotedge_manifest, sharing):
    manifest = check_iotedge_manifest(iotedge_manifest_with_credentials(sharing))
    modules = manifest['modulesContent']['$edgeAgent']['properties.desired']['modules']
    assert sorted(modules) == ['nbody1', 'nbody2']
    for module in modules.values():
        assert module['env']['NVIDIA_VISIBLE_DEVICES'] == {'value': '0'}
        options = iotedge.join_create_options(module['settings'])
        assert options['Cmd'] == ['nbody', '-gpu', '-benchmark']
        if sharing == 'mps':
            assert options['HostConfig'] == {'IpcMode': 'host', 'Binds': ['/tmp/nvidia-mps:/tmp/nvidia-mps']}
        else:
            assert 'HostConfig' not in options
    if sharing == 'mps':
        assert modules['nbody1']['env']['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] == {'value': '30'}
    creds = manifest['modulesContent']['$edgeAgent']['properties.desired']['runtime']['settings']['registryCredentials']
    assert creds['myacr']['password'] == 'p"w\\d'


def test_long_create_options_are_chunked_and_join_back(check_iotedge_manifest):
    extra = {'nbody1': {'Labels': LONG_LABELS}}
    manifest = check_iotedge_manifest(iotedge.manifest(nbody_plan('mps'), create_options=extra))
    settings = manifest['modulesContent']['$edgeAgent']['properties.desired']['modules']['nbody1']['settings']
    chunks = [key for key in settings if key.startswith('createOptions')]
    assert len(chunks) > 2 and all(len(settings[key]) <= 512 for key in chunks)
    assert chunks == ['createOptions'] + ['createOptions%02d' % n for n in range(1, len(chunks))]
    options = iotedge.join_create_options(settings)
    assert options['Labels'] == extra['nbody1']['Labels'] and options['HostConfig']['IpcMode'] == 'host'


@pytest.mark.parametrize('case', sorted(REFERENCE_CASES))
def test_iotedge_manifest_matches_the_reference_schema(iotedge_reference_schema, case):
    jsonschema.validate(REFERENCE_CASES[case](), iotedge_reference_schema)


def test_too_long_create_options_fail():
    extra = {'nbody1': {'Labels': {'blob': 'x' * 5000}}}
    with pytest.raises(iotedge.ManifestError) as info:
        iotedge.manifest(nbody_plan('time_slicing'), create_options=extra)
    assert 'module nbody1: createOptions is' in str(info.value) and 'at most 4096' in str(info.value)


def test_extra_host_config_is_merged_under_the_plans():
    extra = {'nbody1': {'HostConfig': {'IpcMode': 'private', 'ShmSize': 1024}}}
    options = iotedge.join_create_options(iotedge.manifest(nbody_plan('mps'), create_options=extra)
                                          ['modulesContent']['$edgeAgent']['properties.desired']['modules']['nbody1']['settings'])
    assert options['HostConfig']['IpcMode'] == 'host' and options['HostConfig']['ShmSize'] == 1024


@pytest.mark.parametrize('kwargs, words', [
    ({'restart_policy': 'sometimes'}, 'restart_policy must be one of'),
    ({'registry_credentials': {'my.acr': {'address': 'a', 'username': 'u', 'password': 'p'}}}, "'my.acr' is not a valid credential name"),
    ({'registry_credentials': {'acr': {'address': 'a'}}}, 'must have exactly address, username and password'),
    ({'registry_credentials': {'acr': {'address': 'a b', 'username': 'u', 'password': 'p'}}}, "address 'a b'"),
    ({'routes': {'up': 'FROM /* INTO $upstream\nFROM x'}}, 'is not a valid route'),
    ({'routes': {'$up': 'FROM /* INTO $upstream'}}, 'is not a valid route'),
    ({'create_options': {'ghost': {}}}, 'create_options names workloads that are not planned: ghost'),
])
def test_iotedge_option_rejections(kwargs, words):
    with pytest.raises(iotedge.ManifestError) as info:
        iotedge.manifest(nbody_plan('time_slicing'), **kwargs)
    assert words in str(info.value)
