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
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption

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


def test_extra_host_config_is_merged_with_the_plans():
    extra = {'nbody1': {'HostConfig': {'ShmSize': 1024, 'Binds': ['/srv/models:/models:ro']}}}
    options = iotedge.join_create_options(iotedge.manifest(nbody_plan('mps'), create_options=extra)
                                          ['modulesContent']['$edgeAgent']['properties.desired']['modules']['nbody1']['settings'])
    assert options['HostConfig'] == {'IpcMode': 'host', 'ShmSize': 1024,
                                     'Binds': ['/srv/models:/models:ro', '/tmp/nvidia-mps:/tmp/nvidia-mps']}


def test_extra_host_config_contradicting_mps_is_refused():
    extra = {'nbody1': {'HostConfig': {'IpcMode': 'private', 'ShmSize': 1024}}}
    with pytest.raises(iotedge.ManifestError) as info:
        iotedge.manifest(nbody_plan('mps'), create_options=extra)
    assert str(info.value) == ("workload 'nbody1': create_options HostConfig.IpcMode 'private' conflicts with 'host', "
                               "which MPS (its clients reach the control daemon through host IPC) needs")


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


@pytest.mark.parametrize('kwargs, words', [
    ({'store_and_forward_ttl': -1}, 'store_and_forward_ttl must be a whole number from 0 to 2147483647, got -1'),
    ({'store_and_forward_ttl': 10 ** 30}, 'store_and_forward_ttl must be a whole number from 0 to 2147483647, got %d' % 10 ** 30),
    ({'edge_agent_image': 'mcr.microsoft.com/azureiotedge-agent:1.5 x'},
     "edge_agent_image 'mcr.microsoft.com/azureiotedge-agent:1.5 x' is not a container image reference"),
    ({'edge_hub_image': ''}, "edge_hub_image '' is not a container image reference"),
])
def test_iotedge_values_are_named(kwargs, words):
    with pytest.raises(InvalidOption) as info:
        iotedge.manifest(nbody_plan('time_slicing'), **kwargs)
    assert words in str(info.value)


# ---- per-GPU sharing, GPU-less workloads and per-workload settings ---------------------------------

TWO_GPUS = GPUS + [{'index': 1, 'uuid': 'GPU-6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d', 'name': 'Tesla T4',
                    'compute_capability': '7.5', 'memory': {'total': 16106127360}, 'mig_mode': None}]


def mixed_plan(**more):
    """Two T4s, MPS serving GPU 1 only: camera time-sliced on GPU 0, detector under MPS, uploader without a GPU."""
    workloads = [dict({'name': 'camera', 'image': NBODY, 'gpu': 0}, **more.get('camera', {})),
                 dict({'name': 'detector', 'image': NBODY, 'gpu_percentage': 40}, **more.get('detector', {})),
                 dict({'name': 'uploader', 'image': NBODY, 'gpu': 'none'}, **more.get('uploader', {}))]
    return planner.make_plan(TWO_GPUS, workloads, gpu_sharing={1: 'mps'})


def pod_of(obj):
    return obj['spec']['template']['spec']


def env_of(container):
    return dict((item['name'], item['value']) for item in container['env'])


@pytest.mark.parametrize('kind', ['Job', 'Deployment'])
def test_kubernetes_mixed_sharing_and_no_gpu(kind):
    objects = dict((obj['metadata']['name'], obj) for obj in kubernetes.workload_objects(mixed_plan(), kind))
    for obj in objects.values():
        kubernetes_validate.validate(obj, '1.33', strict=True)
    camera, detector, uploader = (pod_of(objects[name]) for name in ('camera', 'detector', 'uploader'))
    assert env_of(camera['containers'][0]) == {'NVIDIA_VISIBLE_DEVICES': '0'}
    assert 'hostIPC' not in camera and 'volumes' not in camera
    assert env_of(detector['containers'][0])['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] == '40'
    assert detector['hostIPC'] is True and detector['volumes'][0]['hostPath']['path'] == '/tmp/nvidia-mps'
    assert env_of(uploader['containers'][0]) == {'NVIDIA_VISIBLE_DEVICES': 'void'}
    assert 'hostIPC' not in uploader and 'resources' not in uploader['containers'][0]


def test_kubernetes_gpu_resource_skips_workloads_without_a_gpu():
    plan = planner.make_plan(GPUS, [{'name': 'a', 'image': NBODY}, {'name': 'b', 'image': NBODY, 'gpu': 'none'}])
    a, b = kubernetes.workload_objects(plan, gpu_resource='nvidia.com/gpu')
    assert pod_of(a)['containers'][0]['resources'] == {'limits': {'nvidia.com/gpu': 1}}
    assert 'resources' not in pod_of(b)['containers'][0]
    assert env_of(pod_of(b)['containers'][0]) == {'NVIDIA_VISIBLE_DEVICES': 'void'}


def test_kubernetes_pin_with_gpu_resource_on_several_gpus_is_refused():
    with pytest.raises(kubernetes.ManifestError) as info:
        kubernetes.workload_objects(mixed_plan(), gpu_resource='nvidia.com/gpu')
    message = str(info.value)
    assert "workload 'camera' is pinned to GPU 0 (%s)" % GPUS[0]['uuid'] in message
    assert 'gpu_resource nvidia.com/gpu' in message and 'the pin cannot be kept' in message
    # Unpinned workloads and a one-GPU device are fine.
    plan = planner.make_plan(TWO_GPUS, [{'name': 'a', 'image': NBODY}])
    assert kubernetes.workload_objects(plan, gpu_resource='nvidia.com/gpu')


SETTINGS = {
    'host_pid': True, 'image_pull_policy': 'IfNotPresent', 'node_selector': {'nvidia.com/gpu.present': 'true'},
    'tolerations': [{'key': 'nvidia.com/gpu', 'operator': 'Exists', 'effect': 'NoSchedule'},
                    {'key': 'edge', 'operator': 'Equal', 'value': 'plant-7', 'effect': 'NoExecute', 'tolerationSeconds': 60}],
    'image_pull_secrets': ['registry-local'],
    'resources': {'requests': {'cpu': '500m', 'memory': '1Gi'}, 'limits': {'memory': '2Gi', 'cpu': 2}},
    'security_context': {'runAsNonRoot': True, 'runAsUser': 1000, 'capabilities': {'drop': ['ALL']}},
}


@pytest.mark.parametrize('kind', ['Job', 'Deployment'])
def test_kubernetes_settings_reach_the_pod_and_validate(kind):
    more = dict(SETTINGS, restart_policy='OnFailure', backoff_limit=5) if kind == 'Job' else SETTINGS
    plan = planner.make_plan(GPUS, [dict({'name': 'a', 'image': NBODY, 'gpu_percentage': 50}, **more)], 'mps')
    obj = kubernetes.workload_objects(plan, kind, gpu_resource='nvidia.com/gpu')[0]
    kubernetes_validate.validate(obj, '1.33', strict=True)
    pod = pod_of(obj)
    container = pod['containers'][0]
    assert pod['hostPID'] is True and pod['hostIPC'] is True
    assert pod['nodeSelector'] == SETTINGS['node_selector'] and pod['tolerations'] == SETTINGS['tolerations']
    assert pod['imagePullSecrets'] == [{'name': 'registry-local'}]
    assert container['imagePullPolicy'] == 'IfNotPresent'
    # The workload's resources keep the GPU limit beside them.
    assert container['resources'] == {'requests': {'cpu': '500m', 'memory': '1Gi'},
                                      'limits': {'memory': '2Gi', 'cpu': 2, 'nvidia.com/gpu': 1}}
    assert container['securityContext'] == SETTINGS['security_context']
    if kind == 'Job':
        assert pod['restartPolicy'] == 'OnFailure' and obj['spec']['backoffLimit'] == 5
    # The plan's data is not changed by rendering.
    assert plan['workloads'][0]['settings']['resources'] == SETTINGS['resources']


def test_kubernetes_job_defaults_stay():
    obj = kubernetes.workload_objects(nbody_plan('time_slicing'), 'Job')[0]
    assert obj['spec']['backoffLimit'] == 2 and pod_of(obj)['restartPolicy'] == 'Never'


@pytest.mark.parametrize('settings, kind, words', [
    ({'restart_policy': 'Always'}, 'Job', "workload 'a': restart_policy 'Always' must be Never or OnFailure for a Job"),
    ({'restart_policy': 'Never'}, 'Deployment', "workload 'a': restart_policy applies to Jobs only"),
    ({'backoff_limit': 3}, 'Deployment', "workload 'a': backoff_limit applies to Jobs only"),
    ({'image_pull_policy': 'on-create'}, 'Job', "workload 'a': image_pull_policy 'on-create' must be one of Always"),
    ({'node_selector': {'bad key!': 'x'}}, 'Job', "workload 'a': node_selector: 'bad key!' is not a valid label key"),
    ({'node_selector': {'site': True}}, 'Job', "workload 'a': node_selector: True is not a valid value for label site"),
    ({'tolerations': ['x']}, 'Job', "workload 'a': tolerations: 'x' is not a dictionary"),
    ({'tolerations': [{'key': 'a', 'toleration_seconds': 1}]}, 'Job', 'unknown keys toleration_seconds'),
    ({'tolerations': [{'key': 'a', 'operator': 'In'}]}, 'Job', "operator 'In' must be Exists or Equal"),
    ({'tolerations': [{'operator': 'Equal', 'value': 'x'}]}, 'Job', 'a toleration without a key must have operator Exists'),
    ({'tolerations': [{'key': 'a', 'operator': 'Exists', 'value': 'x'}]}, 'Job', 'operator Exists takes no value'),
    ({'tolerations': [{'key': 'a', 'effect': 'Sometimes'}]}, 'Job', "effect 'Sometimes' must be one of"),
    ({'tolerations': [{'key': 'a', 'effect': 'NoSchedule', 'tolerationSeconds': 5}]}, 'Job', 'goes with effect NoExecute only'),
    ({'image_pull_secrets': ['Bad_Secret']}, 'Job', "workload 'a': image_pull_secrets: 'Bad_Secret' is not a valid Secret name"),
    ({'resources': {'requested': {}}}, 'Job', "workload 'a': resources may have requests and limits, not requested"),
    ({'resources': {'limits': {'cpu': 'lots'}}}, 'Job', "workload 'a': resources.limits.cpu: 'lots' is not a quantity"),
    ({'resources': {'limits': {'nvidia.com/gpu': 2}}}, 'Job', "workload 'a': resources.limits.nvidia.com/gpu: GPUs are requested through the plan"),
    ({'resources': {'requests': ['cpu']}}, 'Job', "workload 'a': resources.requests must be a dictionary"),
    ({'security_context': {'hostPID': True}}, 'Job', "workload 'a': security_context: unknown keys hostPID"),
    ({'security_context': {'privileged': 'yes'}}, 'Job', "workload 'a': security_context.privileged must be true or false"),
    ({'security_context': {'runAsUser': -1}}, 'Job', "workload 'a': security_context.runAsUser must be a user or group id"),
    ({'create_options': {}}, 'Job', "workload 'a': create_options applies to IoT Edge modules only"),
])
def test_kubernetes_setting_refusals_name_the_workload_and_value(settings, kind, words):
    plan = planner.make_plan(GPUS, [dict({'name': 'a', 'image': NBODY}, **settings)])
    with pytest.raises(kubernetes.ManifestError) as info:
        kubernetes.workload_objects(plan, kind, gpu_resource='nvidia.com/gpu')
    assert words in str(info.value)


def modules_of(manifest):
    return manifest['modulesContent']['$edgeAgent']['properties.desired']['modules']


def test_iotedge_mixed_sharing_and_no_gpu(check_iotedge_everywhere):
    manifest = iotedge.manifest(mixed_plan())
    check_iotedge_everywhere(manifest)
    modules = modules_of(manifest)
    assert modules['camera']['env'] == {'NVIDIA_VISIBLE_DEVICES': {'value': '0'}}
    assert 'HostConfig' not in iotedge.join_create_options(modules['camera']['settings'])
    assert modules['detector']['env']['CUDA_MPS_PIPE_DIRECTORY'] == {'value': '/tmp/nvidia-mps'}
    assert iotedge.join_create_options(modules['detector']['settings'])['HostConfig']['IpcMode'] == 'host'
    assert modules['uploader']['env'] == {'NVIDIA_VISIBLE_DEVICES': {'value': 'void'}}


def test_iotedge_settings_reach_the_module(check_iotedge_everywhere):
    plan = mixed_plan(detector={'host_pid': True, 'restart_policy': 'on-failure', 'image_pull_policy': 'never',
                                'create_options': {'HostConfig': {'Binds': ['/srv/models:/models:ro'], 'ShmSize': 64},
                                                   'Env': ['LOG=debug'], 'Labels': {'site': 'plant-7'}}})
    manifest = iotedge.manifest(plan, gpu_runtime='nvidia')
    check_iotedge_everywhere(manifest)
    detector = modules_of(manifest)['detector']
    assert detector['restartPolicy'] == 'on-failure' and detector['imagePullPolicy'] == 'never'
    assert modules_of(manifest)['camera']['restartPolicy'] == 'always' and 'imagePullPolicy' not in modules_of(manifest)['camera']
    options = iotedge.join_create_options(detector['settings'])
    assert options['HostConfig'] == {'Binds': ['/srv/models:/models:ro', '/tmp/nvidia-mps:/tmp/nvidia-mps'], 'ShmSize': 64,
                                     'IpcMode': 'host', 'PidMode': 'host', 'Runtime': 'nvidia'}
    assert options['Env'] == ['LOG=debug'] and options['Labels'] == {'site': 'plant-7'}
    # A bind of the pipe directory the user already gives is not doubled.
    plan = mixed_plan(detector={'create_options': {'HostConfig': {'Binds': ['/tmp/nvidia-mps:/tmp/nvidia-mps:rw']}}})
    options = iotedge.join_create_options(modules_of(iotedge.manifest(plan))['detector']['settings'])
    assert options['HostConfig']['Binds'] == ['/tmp/nvidia-mps:/tmp/nvidia-mps:rw']


@pytest.mark.parametrize('settings, kwargs, words', [
    ({'restart_policy': 'OnFailure'}, {}, "workload 'detector': restart_policy 'OnFailure' must be one of never"),
    ({'image_pull_policy': 'Always'}, {}, "workload 'detector': image_pull_policy 'Always' must be on-create or never"),
    ({'tolerations': []}, {}, "workload 'detector': tolerations applies to Kubernetes objects only"),
    ({'backoff_limit': 1}, {}, "workload 'detector': backoff_limit applies to Kubernetes objects only"),
    ({'create_options': {'HostConfig': {'IpcMode': 'shareable'}}}, {},
     "workload 'detector': create_options HostConfig.IpcMode 'shareable' conflicts with 'host', which MPS"),
    ({'host_pid': True, 'create_options': {'HostConfig': {'PidMode': 'container:x'}}}, {},
     "HostConfig.PidMode 'container:x' conflicts with 'host', which host_pid needs"),
    ({'create_options': {'HostConfig': {'Runtime': 'runc'}}}, {'gpu_runtime': 'nvidia'},
     "HostConfig.Runtime 'runc' conflicts with 'nvidia', which gpu_runtime needs"),
    ({'create_options': {'HostConfig': {'Binds': ['/srv/empty:/tmp/nvidia-mps']}}}, {},
     "Binds '/srv/empty:/tmp/nvidia-mps' mounts something else on the MPS pipe directory"),
    ({'create_options': {'HostConfig': {'Binds': '/a:/b'}}}, {}, 'HostConfig.Binds must be a list'),
    ({'create_options': {'HostConfig': []}}, {}, 'HostConfig must be a dictionary'),
    ({'create_options': {'Env': ['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=100']}}, {},
     "workload 'detector': create_options Env CUDA_MPS_ACTIVE_THREAD_PERCENTAGE is set by the sharing plan"),
    ({'args': ['-gpu'], 'create_options': {'Cmd': ['-cpu']}}, {}, "create_options Cmd ['-cpu'] conflicts with args ['-gpu']"),
    ({'create_options': {}}, {'create_options': {'detector': {}}}, "workload 'detector': create_options is given both"),
])
def test_iotedge_setting_refusals_name_the_workload_and_values(settings, kwargs, words):
    with pytest.raises(iotedge.ManifestError) as info:
        iotedge.manifest(mixed_plan(detector=settings), **kwargs)
    assert words in str(info.value)


def test_iotedge_empty_manifest_needs_allow_empty(check_iotedge_everywhere):
    plan = planner.make_plan(GPUS, [])
    with pytest.raises(iotedge.ManifestError) as info:
        iotedge.manifest(plan)
    assert 'workloads is empty' in str(info.value) and 'allow_empty: true' in str(info.value)
    manifest = iotedge.manifest(plan, allow_empty=True)
    check_iotedge_everywhere(manifest)
    assert modules_of(manifest) == {}
