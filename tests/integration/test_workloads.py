# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Plans carried into Kubernetes objects and IoT Edge manifests, through ansible-playbook."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import jsonschema
import pytest
import yaml

from harness import validate_kubernetes  # pylint: disable=import-error
from iotedge_agent import check_manifest  # pylint: disable=import-error
import shared_reference  # pylint: disable=import-error

NBODY = 'nvcr.io/nvidia/k8s/cuda-sample:nbody'


def nbody(name, **more):
    return dict(name=name, image=NBODY, args=['nbody', '-gpu', '-benchmark'], **more)


@pytest.fixture
def render(fleet_hosts, playbook):
    def run(module, args, target='edge-01', expect_failure=False, check=False):
        run = playbook('%s_module.yml' % module, check=check,
                       extra_vars={'target': target, 'module_args': args, 'expect_failure': expect_failure})
        assert run.rc == 0, run.output
        return run.result(target)
    return run


def create_options(module_spec):
    """The Docker create options of an IoT Edge module, its createOptions chunks joined in order."""
    settings = module_spec['settings']
    return json.loads(''.join(value for key, value in sorted(settings.items()) if key.startswith('createOptions')))


def env_of(container):
    return dict((item['name'], item['value']) for item in container['env'])


def test_vendor_example_time_shared_on_one_t4(render, tmp_path):
    workloads = [nbody('nbody1', gpu=0), nbody('nbody2', gpu=0)]
    k8s = render('k8s_gpu_workload', {'sharing': 'time_slicing', 'kind': 'Job', 'workloads': workloads,
                                      'dest': str(tmp_path / 'k8s')})
    for obj in k8s['objects']:
        validate_kubernetes(obj)
        pod = obj['spec']['template']['spec']
        assert obj['kind'] == 'Job' and env_of(pod['containers'][0]) == {'NVIDIA_VISIBLE_DEVICES': '0'}
        assert 'hostIPC' not in pod
    edge = render('iotedge_manifest', {'sharing': 'time_slicing', 'workloads': workloads,
                                       'dest': str(tmp_path / 'deployment.json')})
    with open(str(tmp_path / 'deployment.json')) as handle:
        manifest = json.load(handle)
    check_manifest(manifest)
    modules = manifest['modulesContent']['$edgeAgent']['properties.desired']['modules']
    assert dict((name, module['env']) for name, module in modules.items()) == {
        'nbody1': {'NVIDIA_VISIBLE_DEVICES': {'value': '0'}}, 'nbody2': {'NVIDIA_VISIBLE_DEVICES': {'value': '0'}}}
    assert edge['plan']['gpus'][0]['clients'] == 2


def test_vendor_example_under_mps_with_percentages(render, tmp_path):
    workloads = [nbody('nbody1', gpu_percentage=20), nbody('nbody2', gpu_percentage=80)]
    k8s = render('k8s_gpu_workload', {'sharing': 'mps', 'kind': 'Job', 'workloads': workloads})
    percentages = []
    for obj in k8s['objects']:
        validate_kubernetes(obj)
        pod = obj['spec']['template']['spec']
        env = env_of(pod['containers'][0])
        percentages.append(env['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'])
        assert env['NVIDIA_VISIBLE_DEVICES'] == '0' and env['CUDA_MPS_PIPE_DIRECTORY'] == '/tmp/nvidia-mps'
        assert pod['hostIPC'] is True
    assert percentages == ['20', '80']
    dest = str(tmp_path / 'deployment.json')
    render('iotedge_manifest', {'sharing': 'mps', 'workloads': workloads, 'dest': dest})
    with open(dest) as handle:
        manifest = json.load(handle)
    check_manifest(manifest)
    for name, percentage in (('nbody1', '20'), ('nbody2', '80')):
        module = manifest['modulesContent']['$edgeAgent']['properties.desired']['modules'][name]
        assert module['env']['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] == {'value': percentage}
        options = create_options(module)
        assert options['HostConfig']['IpcMode'] == 'host'
        assert options['HostConfig']['Binds'] == ['/tmp/nvidia-mps:/tmp/nvidia-mps']


NASTY = [
    'say "hello"', "it's", 'two\nlines', 'key: value', '- item', '# not a comment', '&anchor', '*alias',
    '!!python/object/apply:os.system ["id"]', '{"json": [1, 2]}', 'back\\slash', '$(reboot)', '`id`', '${HOME}', '',
    '   padded   ', 'trailing space ', 'tab\there', 'ünïcødé', '0', 'true', 'null', '1e3',
]


@pytest.mark.parametrize('module', ['k8s_gpu_workload', 'iotedge_manifest'])
def test_metacharacters_are_carried_exactly_never_injected(render, tmp_path, module):
    env = dict(('VAR_%02d' % number, value) for number, value in enumerate(NASTY))
    dest = str(tmp_path / ('out.yaml' if module == 'k8s_gpu_workload' else 'deployment.json'))
    render(module, {'sharing': 'mps', 'dest': dest, 'workloads': [
        dict(nbody('carrier', gpu_percentage=10, env=env), args=NASTY, command=['sh', '-c', 'echo "$VAR_00"; exit 0'])]})
    with open(dest) as handle:
        if module == 'k8s_gpu_workload':
            documents = list(yaml.safe_load_all(handle))
            assert len(documents) == 1
            validate_kubernetes(documents[0])
            container = documents[0]['spec']['template']['spec']['containers'][0]
            got_env, got_args, got_command = env_of(container), container['args'], container['command']
        else:
            manifest = json.load(handle)
            check_manifest(manifest)
            module_spec = manifest['modulesContent']['$edgeAgent']['properties.desired']['modules']['carrier']
            got_env = dict((name, value['value']) for name, value in module_spec['env'].items())
            options = create_options(module_spec)
            got_args, got_command = options['Cmd'], options['Entrypoint']
    assert dict((name, value) for name, value in got_env.items() if name.startswith('VAR_')) == env
    assert got_args == NASTY
    assert got_command == ['sh', '-c', 'echo "$VAR_00"; exit 0']


def test_rendered_manifests_match_the_reference_schema(iotedge_reference_schema, render, tmp_path):
    """The manifests of the tests above, cross-checked against SchemaStore's schema in ../shared
    (skipped, before any fleet is laid out, where ../shared is absent)."""
    env = dict(('VAR_%02d' % number, value) for number, value in enumerate(NASTY))
    cases = {
        'time_slicing': {'sharing': 'time_slicing', 'workloads': [nbody('nbody1', gpu=0), nbody('nbody2', gpu=0)]},
        'mps': {'sharing': 'mps', 'workloads': [nbody('nbody1', gpu_percentage=20), nbody('nbody2', gpu_percentage=80)]},
        'metacharacters': {'sharing': 'mps', 'workloads': [
            dict(nbody('carrier', gpu_percentage=10, env=env), args=NASTY, command=['sh', '-c', 'echo "$VAR_00"; exit 0'])]},
    }
    for case, args in sorted(cases.items()):
        dest = str(tmp_path / ('%s.json' % case))
        render('iotedge_manifest', dict(args, dest=dest))
        with open(dest) as handle:
            jsonschema.validate(json.load(handle), iotedge_reference_schema)


@pytest.mark.parametrize('workload, words', [
    (nbody('Bad_Name'), "workload 'Bad_Name': the name must be a DNS-1123 label"),
    (nbody('x\ny'), 'the name must be a DNS-1123 label'),
    (nbody('a', env={'BAD NAME': 'x'}), "'BAD NAME' is not a valid environment variable name"),
    (dict(nbody('a'), image='nbody\n  hostNetwork: true'), 'is not a container image reference'),
    (nbody('a', env={'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '100'}), 'is set by the sharing plan'),
])
@pytest.mark.parametrize('module', ['k8s_gpu_workload', 'iotedge_manifest'])
def test_bad_names_are_rejected_and_nothing_is_written(render, tmp_path, module, workload, words):
    dest = str(tmp_path / 'out.yaml')
    result = render(module, {'workloads': [workload], 'dest': dest}, expect_failure=True)
    assert result['failed'] is True and words in result['msg']
    assert not os.path.exists(dest)


@pytest.mark.parametrize('module', ['k8s_gpu_workload', 'iotedge_manifest'])
def test_same_inputs_not_changed_and_check_mode_writes_nothing(render, tmp_path, module):
    dest = str(tmp_path / 'out.yaml')
    args = {'sharing': 'mps', 'dest': dest, 'workloads': [nbody('a', gpu_percentage=50), nbody('b', gpu_percentage=50)]}
    assert render(module, args, check=True)['changed'] is True and not os.path.exists(dest)
    assert render(module, args)['changed'] is True
    assert render(module, args)['changed'] is False
    changed = dict(args, workloads=[nbody('a', gpu_percentage=40), nbody('b', gpu_percentage=50)])
    with open(dest, 'rb') as handle:
        before = handle.read()
    assert render(module, changed, check=True)['changed'] is True
    with open(dest, 'rb') as handle:
        assert handle.read() == before


def test_plan_that_cannot_be_made_names_every_workload(render):
    result = render('k8s_gpu_workload', {'sharing': 'mps', 'workloads': [
        nbody('a', gpu_percentage=60), nbody('b', gpu_percentage=60), nbody('c', gpu_memory='20G'), nbody('d', gpu=1)]},
        expect_failure=True)
    for name in ('b', 'c', 'd'):
        assert "workload '%s'" % name in result['msg']
    assert "workload 'a'" not in result['msg']


def test_reserved_gpu_is_never_used(render):
    result = render('k8s_gpu_workload', {'sharing': 'time_slicing', 'reserved_gpus': [0],
                                         'workloads': [nbody('a'), nbody('b')]}, target='edge-13')
    assert [w['gpus'] for w in result['plan']['workloads']] == [[1], [1]]
    assert result['plan']['gpus'][0]['reserved'] is True and result['plan']['gpus'][0]['clients'] == 0


def validate_iotedge_if_schema(manifest):
    """What an IoT Edge agent needs, always; SchemaStore's schema too where ../shared has it."""
    check_manifest(manifest)
    if os.path.exists(shared_reference.IOTEDGE_SCHEMA):
        jsonschema.validate(manifest, shared_reference.iotedge_schema())


def test_mps_on_one_of_two_t4s_reaches_only_its_workloads(render, tmp_path):
    # edge-13 has two T4s and MPS serves GPU 1 only (the inventory's mps_gpus: [1]).
    workloads = [
        nbody('camera', gpu=0, image_pull_policy='IfNotPresent', security_context={'runAsNonRoot': True, 'runAsUser': 1000}),
        nbody('detector', gpu_percentage=40, gpu_memory='2G', host_pid=True, restart_policy='OnFailure', backoff_limit=4,
              node_selector={'nvidia.com/gpu.present': 'true'},
              tolerations=[{'key': 'nvidia.com/gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}],
              resources={'requests': {'cpu': '500m', 'memory': '1Gi'}, 'limits': {'memory': '2Gi'}},
              image_pull_secrets=['registry-local']),
        dict(nbody('uploader', gpu='none'), image='registry.local/uploader:1'),
    ]
    result = render('k8s_gpu_workload', {'gpu_sharing': {1: 'mps'}, 'kind': 'Job', 'workloads': workloads,
                                         'dest': str(tmp_path / 'k8s')}, target='edge-13')
    assert [g['sharing'] for g in result['plan']['gpus']] == ['time_slicing', 'mps']
    objects = dict((obj['metadata']['name'], obj) for obj in result['objects'])
    for name, obj in objects.items():
        validate_kubernetes(obj)
        with open(str(tmp_path / 'k8s' / (name + '.yaml'))) as handle:
            assert yaml.safe_load(handle) == obj
    pods = dict((name, obj['spec']['template']['spec']) for name, obj in objects.items())
    assert env_of(pods['camera']['containers'][0]) == {'NVIDIA_VISIBLE_DEVICES': '0'}
    assert pods['camera']['containers'][0]['securityContext'] == {'runAsNonRoot': True, 'runAsUser': 1000}
    detector = env_of(pods['detector']['containers'][0])
    assert detector['NVIDIA_VISIBLE_DEVICES'] == '1' and detector['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] == '40'
    assert pods['detector']['hostPID'] is True and pods['detector']['hostIPC'] is True
    assert pods['detector']['restartPolicy'] == 'OnFailure' and objects['detector']['spec']['backoffLimit'] == 4
    assert env_of(pods['uploader']['containers'][0]) == {'NVIDIA_VISIBLE_DEVICES': 'void'}
    for name in ('camera', 'uploader'):
        assert not [var for var in env_of(pods[name]['containers'][0]) if var.startswith('CUDA_MPS_')]
        assert 'hostIPC' not in pods[name]

    dest = str(tmp_path / 'deployment.json')
    edge_workloads = [nbody('camera', gpu=0),
                      nbody('detector', gpu_percentage=40, host_pid=True, restart_policy='on-failure',
                            image_pull_policy='never', create_options={'HostConfig': {'Binds': ['/srv/models:/models:ro']}}),
                      nbody('uploader', gpu='none')]
    render('iotedge_manifest', {'gpu_sharing': {1: 'mps'}, 'workloads': edge_workloads, 'dest': dest}, target='edge-13')
    with open(dest) as handle:
        manifest = json.load(handle)
    validate_iotedge_if_schema(manifest)
    modules = manifest['modulesContent']['$edgeAgent']['properties.desired']['modules']
    assert modules['camera']['env']['NVIDIA_VISIBLE_DEVICES'] == {'value': '0'}
    assert not [var for var in modules['camera']['env'] if var.startswith('CUDA_MPS_')]
    assert modules['uploader']['env'] == {'NVIDIA_VISIBLE_DEVICES': {'value': 'void'}}
    assert modules['detector']['restartPolicy'] == 'on-failure' and modules['detector']['imagePullPolicy'] == 'never'
    host = create_options(modules['detector'])['HostConfig']
    assert host == {'Binds': ['/srv/models:/models:ro', '/tmp/nvidia-mps:/tmp/nvidia-mps'], 'IpcMode': 'host', 'PidMode': 'host'}


@pytest.mark.parametrize('module, args, words', [
    ('k8s_gpu_workload', {'gpu_sharing': {1: 'mps'}, 'workloads': [nbody('a', gpu=0, gpu_percentage=20)]},
     "workload 'a': does not fit: gpu_percentage 20 needs an MPS GPU, but GPU 0"),
    ('iotedge_manifest', {'gpu_sharing': {0: 'none'}, 'workloads': [nbody('a', gpu=0), nbody('b', gpu=0)]},
     "workload 'b': does not fit: GPU 0"),
    ('k8s_gpu_workload', {'gpu_sharing': {1: 'mps'}, 'workloads': [nbody('a', gpu='all')]},
     "workload 'a': gpu all would span GPUs that are shared differently"),
    ('k8s_gpu_workload', {'gpu_resource': 'nvidia.com/gpu', 'workloads': [nbody('a', gpu=1)]},
     "workload 'a' is pinned to GPU 1"),
    ('iotedge_manifest', {'sharing': 'mps', 'workloads': [nbody('a', create_options={'HostConfig': {'IpcMode': 'private'}})]},
     "create_options HostConfig.IpcMode 'private' conflicts with 'host'"),
])
def test_per_gpu_refusals_write_nothing(render, tmp_path, module, args, words):
    dest = str(tmp_path / 'out.yaml')
    result = render(module, dict(args, dest=dest), target='edge-13', expect_failure=True)
    assert result['failed'] is True and words in result['msg']
    assert not os.path.exists(dest)


def written(dest):
    """The files in a directory, or a file's text."""
    if os.path.isdir(dest):
        return sorted(os.listdir(dest))
    with open(dest) as handle:
        return handle.read()


@pytest.mark.parametrize('module', ['k8s_gpu_workload', 'iotedge_manifest'])
def test_empty_workload_list_needs_allow_empty(render, tmp_path, module):
    dest = str(tmp_path / ('k8s' if module == 'k8s_gpu_workload' else 'deployment.json'))
    render(module, {'dest': dest, 'workloads': [nbody('a')]})
    before = written(dest)
    result = render(module, {'dest': dest, 'workloads': []}, expect_failure=True)
    assert result['failed'] is True and 'allow_empty' in result['msg']
    assert written(dest) == before
    assert render(module, {'dest': dest, 'workloads': [], 'allow_empty': True})['changed'] is True
