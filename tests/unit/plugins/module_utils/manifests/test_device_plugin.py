# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml

from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import device_plugin as dp
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests.serialize import dump_yaml

# The examples of NVIDIA's k8s-device-plugin README ("Shared Access to GPUs"), as the plugin reads them.
README_TIME_SLICING = '''
version: v1
sharing:
  timeSlicing:
    resources:
    - name: nvidia.com/gpu
      replicas: 10
'''
README_TIME_SLICING_RENAMED = '''
version: v1
sharing:
  timeSlicing:
    renameByDefault: true
    resources:
    - name: nvidia.com/gpu
      replicas: 10
'''
README_MPS = '''
version: v1
sharing:
  mps:
    resources:
    - name: nvidia.com/gpu
      replicas: 10
'''
README_MPS_RENAMED = '''
version: v1
sharing:
  mps:
    renameByDefault: true
    resources:
    - name: nvidia.com/gpu
      replicas: 10
'''
README_FLAGS = '''
version: v1
flags:
  migStrategy: "none"
  failOnInitError: true
  nvidiaDriverRoot: "/"
  plugin:
    passDeviceSpecs: false
    deviceListStrategy: "envvar"
    deviceIDStrategy: "uuid"
'''


@pytest.mark.parametrize('spec, example', [
    ({'strategy': 'time_slicing', 'replicas': 10}, README_TIME_SLICING),
    ({'strategy': 'time_slicing', 'replicas': 10, 'rename_by_default': True}, README_TIME_SLICING_RENAMED),
    ({'strategy': 'mps', 'replicas': 10}, README_MPS),
    ({'strategy': 'mps', 'replicas': 10, 'rename_by_default': True}, README_MPS_RENAMED),
    ({'strategy': 'none', 'mig_strategy': 'none', 'flags': {
        'failOnInitError': True, 'nvidiaDriverRoot': '/',
        'plugin': {'passDeviceSpecs': False, 'deviceListStrategy': 'envvar', 'deviceIDStrategy': 'uuid'}}}, README_FLAGS),
    ({'sharing': yaml.safe_load(README_MPS)['sharing']}, README_MPS),
])
def test_readme_examples_as_data(spec, example):
    config = dp.build_config(spec)
    assert config == yaml.safe_load(example)
    assert yaml.safe_load(dump_yaml(config)) == config


def t4(index, uuid, capability='7.5', mig=None):
    return {'index': index, 'uuid': uuid, 'name': 'Tesla T4', 'compute_capability': capability, 'mig_mode': mig}


GPUS = [t4(0, 'GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6'), t4(1, 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7')]


def test_resources_with_rename_and_devices():
    config = dp.build_config({'replicas': 4, 'fail_requests_greater_than_one': True, 'resources': [
        {'name': 'nvidia.com/gpu', 'rename': 'nvidia.com/gpu-quarter', 'devices': [0, GPUS[1]['uuid']]},
        {'name': 'nvidia.com/mig-1g.5gb', 'devices': 'all', 'replicas': 2}]}, GPUS)
    assert config['sharing']['timeSlicing'] == {'failRequestsGreaterThanOne': True, 'resources': [
        {'name': 'nvidia.com/gpu', 'rename': 'nvidia.com/gpu-quarter', 'devices': ['0', GPUS[1]['uuid']], 'replicas': 4},
        {'name': 'nvidia.com/mig-1g.5gb', 'devices': 'all', 'replicas': 2}]}


@pytest.mark.parametrize('spec, gpus, words', [
    ({'replicas': 1}, None, 'replicas must be a whole number of at least 2 to share a GPU, got 1'),
    ({}, None, 'replicas must be a whole number of at least 2'),
    ({'resources': [], 'replicas': 2}, None, 'resources must be a non-empty list for sharing, got []'),
    ({'resources': [{'name': 'nvidia.com/gpu', 'replicas': 0}]}, None, 'resources[0].replicas must be a whole number of at least 2'),
    ({'strategy': 'mps', 'replicas': 2, 'mig_strategy': 'mixed'}, None, "mig_strategy is 'mixed'"),
    ({'strategy': 'mps', 'replicas': 2}, [t4(0, 'GPU-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8', '8.0', {'current': 'enabled', 'pending': 'enabled'})],
     'not supported on MIG-enabled GPUs: GPU 0'),
    ({'strategy': 'mps', 'replicas': 49}, None, 'replicas is 49, but MPS serves at most 48 clients per GPU'),
    ({'strategy': 'mps', 'replicas': 17}, [t4(0, 'GPU-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8', '7.0')],
     'replicas is 17, but MPS serves at most 16 clients per GPU before compute capability 7.5'),
    ({'strategy': 'mps', 'resources': [{'name': 'nvidia.com/mig-1g.5gb', 'replicas': 2}]}, None, 'MPS shares only full GPUs'),
    ({'replicas': 2, 'resources': [{'devices': [2]}]}, GPUS, 'resources[0].devices names GPU 2 but the node has GPUs 0-1'),
    ({'replicas': 2, 'resources': [{'devices': ['GPU-ffffffff-ffff-ffff-ffff-ffffffffffff']}]}, GPUS, 'which is not a GPU of the node'),
    ({'replicas': 2, 'resources': [{'devices': 3}]}, GPUS, 'asks for 3 GPUs but the node has 2'),
    ({'replicas': 2, 'resources': [{'devices': 'some'}]}, None, "resources[0].devices must be all, a count above 0, or a non-empty list"),
    ({'replicas': 2, 'resources': [{'devices': ['gpu0']}]}, None, "has 'gpu0', which is neither a GPU index nor a GPU or MIG UUID"),
    ({'replicas': 2, 'resources': [{'devices': 0}]}, None, 'must be all, a count above 0'),
    ({'replicas': 2, 'resources': [{'name': 'amd.com/gpu'}]}, None, "resources[0].name must be nvidia.com/gpu"),
    ({'replicas': 2, 'resources': [{'rename': 'Bad Name'}]}, None, "resources[0].rename must be a resource name"),
    ({'replicas': 2, 'resources': [{'replica': 3}]}, None, 'resources[0] has unknown keys replica'),
    ({'replicas': 2, 'resources': ['nvidia.com/gpu']}, None, 'resources[0] must be a dictionary'),
    ({'sharing': {'timeSlicing': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2}]},
                  'mps': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2}]}}}, None,
     'time-slicing and MPS are mutually exclusive'),
    ({'sharing': {'timeSlicing': {}}, 'strategy': 'mps'}, None, 'sharing cannot be combined with strategy'),
    ({'sharing': {}}, None, 'sharing must hold timeSlicing or mps'),
    ({'sharing': 'mps'}, None, "sharing must be a dictionary, got 'mps'"),
    ({'sharing': {'mps': []}}, None, 'sharing.mps must be a dictionary'),
    ({'sharing': {'mps': {'replicas': 2}}}, None, 'sharing.mps has unknown keys replicas'),
    ({'strategy': 'none', 'replicas': 4}, None, 'replicas only applies to sharing'),
    ({'strategy': 'half'}, None, "strategy must be one of time_slicing, mps, none, got 'half'"),
    ({'replicas': 2, 'flags': {'migstrategy': 'none'}}, None, 'flags.migstrategy is not a documented device plugin flag'),
    ({'replicas': 2, 'flags': {'plugin': {'deviceIDStrategy': 'serial'}}}, None, "flags.plugin.deviceIDStrategy must be uuid or index"),
    ({'replicas': 2, 'flags': {'plugin': {'deviceListStrategy': ['envvar', 'usb']}}}, None, "unknown strategy 'usb'"),
    ({'replicas': 2, 'flags': {'failOnInitError': 'yes'}}, None, "flags.failOnInitError has the wrong type: 'yes'"),
    ({'replicas': 2, 'flags': {'migStrategy': 'all'}}, None, 'flags.migStrategy must be one of none, single, mixed'),
    ({'replicas': 2, 'flags': {'plugin': 'x'}}, None, 'flags.plugin must be a dictionary'),
    ({'replicas': 2, 'flags': []}, None, 'flags must be a dictionary'),
    ({'replicas': 2, 'mig_strategy': 'single', 'flags': {'migStrategy': 'mixed'}}, None, "contradicts flags.migStrategy"),
    ({'replicas': 2, 'mig_strategy': 'most'}, None, "mig_strategy must be one of"),
    ({'replicas': 2, 'rename_by_default': 'yes'}, None, "rename_by_default must be true or false, got 'yes'"),
])
def test_rejections_name_the_field_and_value(spec, gpus, words):
    with pytest.raises(dp.ConfigError) as info:
        dp.build_config(spec, gpus)
    assert words in str(info.value)


def test_profiles_configmap_and_labels():
    configs = dp.build_profiles({'t4-x4': {'strategy': 'time_slicing', 'replicas': 4}, 't4-mps': {'strategy': 'mps', 'replicas': 2}})
    configmap = dp.build_configmap(configs, 'device-plugin-config', 'gpu-operator', dump_yaml, 't4-x4')
    assert configmap['kind'] == 'ConfigMap' and configmap['metadata']['namespace'] == 'gpu-operator'
    assert sorted(configmap['data']) == ['t4-mps', 't4-x4']
    assert yaml.safe_load(configmap['data']['t4-x4']) == {
        'version': 'v1', 'sharing': {'timeSlicing': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 4}]}}}
    assert dp.expected_node_labels(configs['t4-mps'], 'Tesla T4') == {
        'nvidia.com/gpu.sharing-strategy': 'mps', 'nvidia.com/gpu.replicas': '2', 'nvidia.com/gpu.product': 'Tesla-T4-SHARED'}
    assert dp.expected_node_labels(dp.build_config({'strategy': 'none'})) == {'nvidia.com/gpu.sharing-strategy': 'none'}


@pytest.mark.parametrize('call, words', [
    (lambda: dp.build_profiles({}), 'profiles must be a non-empty dictionary'),
    (lambda: dp.build_profiles({'T4 x4': {'replicas': 4}}), "'T4 x4' is not usable as a ConfigMap key"),
    (lambda: dp.build_profiles({'t4': 4}), 'profiles.t4 must be a dictionary'),
    (lambda: dp.build_profiles({'t4': {'replicas': 1}}), 'profiles.t4: replicas must be'),
    (lambda: dp.build_configmap({'a': {}}, 'Bad_Name', 'ns', dump_yaml), "configmap_name 'Bad_Name'"),
    (lambda: dp.build_configmap({'a': {}}, 'ok', 'Bad.NS', dump_yaml), "namespace 'Bad.NS'"),
    (lambda: dp.build_configmap({'a': {}}, 'ok', 'ns', dump_yaml, 'b'), "default_profile 'b' is not one of the profiles (a)"),
])
def test_profile_rejections(call, words):
    with pytest.raises(dp.ConfigError) as info:
        call()
    assert words in str(info.value)
