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


@pytest.mark.parametrize('spec, gpus, words', [
    ({'replicas': 1}, None, 'replicas must be a whole number from 2 (to share a GPU) to 1024, got 1'),
    ({}, None, 'replicas must be a whole number from 2 (to share a GPU) to 1024'),
    ({'replicas': 1025}, None, 'replicas must be a whole number from 2 (to share a GPU) to 1024, got 1025'),
    ({'replicas': 10 ** 30}, None, 'to 1024, got %d' % 10 ** 30),
    ({'resources': [], 'replicas': 2}, None, 'resources must be a non-empty list for sharing, got []'),
    ({'resources': [{'name': 'nvidia.com/gpu', 'replicas': 0}]}, None, 'resources[0].replicas must be a whole number from 2 (to share a GPU) to 1024'),
    ({'strategy': 'mps', 'replicas': 2, 'mig_strategy': 'mixed'}, None, "mig_strategy is 'mixed'"),
    ({'strategy': 'mps', 'replicas': 2}, [t4(0, 'GPU-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8', '8.0', {'current': 'enabled', 'pending': 'enabled'})],
     'not supported on MIG-enabled GPUs: GPU 0'),
    ({'strategy': 'mps', 'replicas': 49}, None, 'replicas is 49, but MPS serves at most 48 clients per GPU'),
    ({'strategy': 'mps', 'replicas': 17}, [t4(0, 'GPU-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8', '7.0')],
     'replicas is 17, but MPS serves at most 16 clients per GPU before compute capability 7.5'),
    ({'strategy': 'mps', 'resources': [{'name': 'nvidia.com/mig-1g.5gb', 'replicas': 2}]}, None, 'MPS shares only full GPUs'),
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
    ({'replicas': 2, 'flags': {'migstrategy': 'none'}}, None, 'flags.migstrategy is not a flag of the device plugin config'),
    ({'replicas': 2, 'flags': {'plugin': {'deviceIDStrategy': 'serial'}}}, None,
     "flags.plugin.deviceIDStrategy must be one of uuid, index, got 'serial'"),
    ({'replicas': 2, 'flags': {'plugin': {'deviceListStrategy': ['envvar', 'usb']}}}, None, "unknown strategy 'usb'"),
    ({'replicas': 2, 'flags': {'failOnInitError': 'maybe'}}, None, "flags.failOnInitError must be true or false, got 'maybe'"),
    ({'replicas': 2, 'flags': {'migStrategy': 'all'}}, None, 'flags.migStrategy must be one of none, single, mixed'),
    ({'replicas': 2, 'flags': {'plugin': 'x'}}, None, 'flags.plugin must be a dictionary'),
    ({'replicas': 2, 'flags': []}, None, 'flags must be a dictionary'),
    ({'replicas': 2, 'mig_strategy': 'single', 'flags': {'migStrategy': 'mixed'}}, None, "contradicts flags.migStrategy"),
    ({'replicas': 2, 'mig_strategy': 'most'}, None, "mig_strategy must be one of"),
    ({'replicas': 2, 'rename_by_default': 'maybe'}, None, "rename_by_default must be true or false, got 'maybe'"),
    ({'replicas': 2, 'fail_requests_greater_than_one': []}, None, 'fail_requests_greater_than_one must be true or false, got []'),
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
    assert dp.expected_node_labels(configs['t4-mps'], GPUS[:1]) == {
        'nvidia.com/gpu.sharing-strategy': 'mps', 'nvidia.com/gpu.replicas': '2', 'nvidia.com/mps.capable': 'true',
        'nvidia.com/gpu.product': 'Tesla-T4-SHARED', 'nvidia.com/gpu.count': '1'}


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


# ---- every flag of the plugin's config (NVIDIA k8s-device-plugin v0.20, api/config/v1/flags.go) ----

# The flags the plugin's config file reads, written here from its source, with a value it takes
# and that value as the plugin must find it in the file (booleans from -e strings made booleans).
PLUGIN_FLAGS = [
    ('migStrategy', 'single', 'single'),
    ('failOnInitError', 'false', False),
    ('mpsRoot', '/run/nvidia/mps', '/run/nvidia/mps'),
    ('nvidiaDriverRoot', '/run/nvidia/driver', '/run/nvidia/driver'),
    ('nvidiaDevRoot', '/', '/'),
    ('gdrcopyEnabled', True, True),
    ('gdsEnabled', 'yes', True),
    ('mofedEnabled', False, False),
    ('useNodeFeatureAPI', 1, True),
    ('deviceDiscoveryStrategy', 'tegra', 'tegra'),
    ('plugin.passDeviceSpecs', True, True),
    ('plugin.deviceListStrategy', ['envvar', 'cdi-cri'], ['envvar', 'cdi-cri']),
    ('plugin.deviceIDStrategy', 'index', 'index'),
    ('plugin.cdiAnnotationPrefix', 'cdi.k8s.io/', 'cdi.k8s.io/'),
    ('plugin.nvidiaCTKPath', '/usr/bin/nvidia-ctk', '/usr/bin/nvidia-ctk'),
    ('plugin.containerDriverRoot', '/driver-root', '/driver-root'),
    ('plugin.sharedDevicesAllocationPolicy', 'packed', 'packed'),
    ('gfd.oneshot', 'true', True),
    ('gfd.noTimestamp', False, False),
    ('gfd.sleepInterval', '1m30s', '1m30s'),
    ('gfd.outputFile', '/etc/kubernetes/node-feature-discovery/features.d/gfd',
     '/etc/kubernetes/node-feature-discovery/features.d/gfd'),
    ('gfd.machineTypeFile', '/sys/class/dmi/id/product_name', '/sys/class/dmi/id/product_name'),
]
MORE_ACCEPTED = [
    ('plugin.deviceListStrategy', 'volume-mounts', 'volume-mounts'),
    ('gfd.sleepInterval', 'infinite', 'infinite'),
    ('gfd.sleepInterval', '1.5h', '1.5h'),
    ('migStrategy', 'mixed', 'mixed'),
    ('deviceDiscoveryStrategy', 'auto', 'auto'),
]


def nested(path, value):
    """``{'plugin': {'x': value}}`` for ``'plugin.x'``."""
    head, _dot, rest = path.partition('.')
    return {head: nested(rest, value) if rest else value}


@pytest.mark.parametrize('path, given, written', PLUGIN_FLAGS + MORE_ACCEPTED)
def test_every_flag_of_the_plugin_is_accepted(path, given, written):
    config = dp.build_config({'replicas': 2, 'flags': nested(path, given)})
    assert config['flags'] == nested(path, written)
    assert yaml.safe_load(dump_yaml(config))['flags'] == nested(path, written)


def test_all_flags_at_once():
    flags = {}
    for path, given, _written in PLUGIN_FLAGS:
        head, _dot, rest = path.partition('.')
        if rest:
            flags.setdefault(head, {})[rest] = given
        else:
            flags[head] = given
    config = dp.build_config({'replicas': 2, 'flags': flags})
    assert sorted(config['flags']) == sorted(set(path.partition('.')[0] for path, _g, _w in PLUGIN_FLAGS))
    assert config['flags']['plugin']['passDeviceSpecs'] is True and config['flags']['gfd']['oneshot'] is True


@pytest.mark.parametrize('path, value, words', [
    ('migStrategy', 'all', "flags.migStrategy must be one of none, single, mixed, got 'all'"),
    ('failOnInitError', 'maybe', "flags.failOnInitError must be true or false, got 'maybe'"),
    ('mpsRoot', 'run/nvidia/mps', "flags.mpsRoot 'run/nvidia/mps' must be an absolute path"),
    ('nvidiaDriverRoot', '/run/nvidia/../driver', "flags.nvidiaDriverRoot '/run/nvidia/../driver' is not a normalised path"),
    ('nvidiaDevRoot', 7, 'flags.nvidiaDevRoot 7 must be an absolute path'),
    ('gdrcopyEnabled', 'sometimes', "flags.gdrcopyEnabled must be true or false, got 'sometimes'"),
    ('gdsEnabled', 2, 'flags.gdsEnabled must be true or false, got 2'),
    ('mofedEnabled', None, 'flags.mofedEnabled is empty (null)'),
    ('useNodeFeatureAPI', [], 'flags.useNodeFeatureAPI must be true or false, got []'),
    ('deviceDiscoveryStrategy', 'vfio', "flags.deviceDiscoveryStrategy is 'vfio', which GPU feature discovery accepts but "
                                        'the device plugin refuses'),
    ('deviceDiscoveryStrategy', 'cuda', "flags.deviceDiscoveryStrategy must be one of auto, nvml, tegra, got 'cuda'"),
    ('plugin.passDeviceSpecs', 'sure', "flags.plugin.passDeviceSpecs must be true or false, got 'sure'"),
    ('plugin.deviceListStrategy', ['envvar', 'usb'], "flags.plugin.deviceListStrategy has an unknown strategy 'usb'"),
    ('plugin.deviceListStrategy', [], 'flags.plugin.deviceListStrategy is an empty list'),
    ('plugin.deviceListStrategy', 'env var', "flags.plugin.deviceListStrategy has an unknown strategy 'env var'"),
    ('plugin.deviceIDStrategy', 'serial', "flags.plugin.deviceIDStrategy must be one of uuid, index, got 'serial'"),
    ('plugin.cdiAnnotationPrefix', 'cdi.k8s.io',
     "flags.plugin.cdiAnnotationPrefix must be an annotation key prefix such as cdi.k8s.io/ (a DNS subdomain and /), "
     "got 'cdi.k8s.io'"),
    ('plugin.cdiAnnotationPrefix', 'CDI_K8S/', "got 'CDI_K8S/'"),
    ('plugin.nvidiaCTKPath', 'nvidia-ctk', "flags.plugin.nvidiaCTKPath 'nvidia-ctk' must be an absolute path"),
    ('plugin.containerDriverRoot', '/driver-root/./x', "flags.plugin.containerDriverRoot '/driver-root/./x' is not a normalised"),
    ('plugin.sharedDevicesAllocationPolicy', 'spread',
     "flags.plugin.sharedDevicesAllocationPolicy must be one of distributed, packed, got 'spread'"),
    ('plugin.deviceListStrategies', 'envvar', 'flags.plugin.deviceListStrategies is not a flag of the device plugin config'),
    ('gfd.oneshot', 'once', "flags.gfd.oneshot must be true or false, got 'once'"),
    ('gfd.noTimestamp', 'nah', "flags.gfd.noTimestamp must be true or false, got 'nah'"),
    ('gfd.sleepInterval', 60, 'flags.gfd.sleepInterval is the bare number 60, which GPU feature discovery reads as nanoseconds'),
    ('gfd.sleepInterval', 1.5, 'flags.gfd.sleepInterval is the bare number 1.5'),
    ('gfd.sleepInterval', '60', "flags.gfd.sleepInterval must be a duration such as 60s, 5m or 1h30m, or infinite, got '60'"),
    ('gfd.sleepInterval', '-5m', "got '-5m'"),
    ('gfd.sleepInterval', '1 minute', "got '1 minute'"),
    ('gfd.sleepInterval', '0s', "flags.gfd.sleepInterval is '0s': GPU feature discovery would relabel the node without pause"),
    ('gfd.outputFile', 'gfd', "flags.gfd.outputFile 'gfd' must be an absolute path"),
    ('gfd.outputFile', '', "flags.gfd.outputFile is '', so GPU feature discovery would print the labels to its log"),
    ('gfd.machineTypeFile', '../product_name', "flags.gfd.machineTypeFile '../product_name' must be an absolute path"),
    ('gfd.labels', 'x', 'flags.gfd.labels is not a flag of the device plugin config'),
    ('gfd', 'x', "flags.gfd must be a dictionary, got 'x'"),
    ('resources', {'gpus': []}, 'flags.resources is not a flag of the device plugin config'),
])
def test_each_flag_refuses_what_the_plugin_refuses(path, value, words):
    with pytest.raises(dp.ConfigError) as info:
        dp.build_config({'replicas': 2, 'flags': nested(path, value)})
    assert words in str(info.value)


def test_empty_output_file_with_the_node_feature_api():
    flags = {'useNodeFeatureAPI': 'true', 'gfd': {'outputFile': ''}}
    assert dp.build_config({'replicas': 2, 'flags': flags})['flags'] == {'useNodeFeatureAPI': True, 'gfd': {'outputFile': ''}}


def test_flag_errors_in_a_profile_name_the_profile():
    with pytest.raises(dp.ConfigError) as info:
        dp.build_profiles({'t4-x4': {'replicas': 4, 'flags': {'gfd': {'oneshot': 'once'}}}})
    assert "profiles.t4-x4: flags.gfd.oneshot must be true or false, got 'once'" in str(info.value)


# ---- what the plugin reads and then drops (DisableResourceNamingInConfig, v0.20) ----

@pytest.mark.parametrize('spec, words', [
    ({'replicas': 4, 'resources': [{'name': 'nvidia.com/gpu', 'rename': 'nvidia.com/gpu-quarter'}]},
     ["resources[0].rename is 'nvidia.com/gpu-quarter', but the NVIDIA device plugin ignores rename under "
      "sharing.timeSlicing.resources", 'advertises nvidia.com/gpu instead',
      'pods that ask for nvidia.com/gpu-quarter would stay Pending']),
    ({'strategy': 'mps', 'replicas': 2, 'resources': [{'rename': 'nvidia.com/gpu-mps'}]},
     ['ignores rename under sharing.mps.resources', 'pods that ask for nvidia.com/gpu-mps would stay Pending']),
    ({'replicas': 4, 'rename_by_default': True, 'resources': [{'rename': 'nvidia.com/gpu-quarter'}]},
     ['advertises nvidia.com/gpu.shared instead', 'pods that ask for nvidia.com/gpu-quarter would stay Pending']),
    # Without renameByDefault even the default shared name is dropped.
    ({'replicas': 4, 'resources': [{'rename': 'nvidia.com/gpu.shared'}]},
     ["rename is 'nvidia.com/gpu.shared'", 'advertises nvidia.com/gpu instead']),
    ({'replicas': 2, 'resources': [{'devices': [0, 1]}]},
     ["resources[0].devices is [0, 1], but the NVIDIA device plugin ignores devices under sharing.timeSlicing.resources",
      'shares every GPU of the node']),
    ({'replicas': 2, 'resources': [{'devices': 1}]}, ['resources[0].devices is 1', 'shares every GPU of the node']),
    ({'replicas': 2, 'resources': [{'devices': ['GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6']}]}, ['ignores devices']),
    ({'replicas': 2, 'resources': [{'devices': 'some'}]}, ["resources[0].devices is 'some'"]),
    ({'strategy': 'mps', 'replicas': 2, 'resources': [{'devices': [0]}]}, ['ignores devices under sharing.mps.resources']),
    ({'sharing': {'timeSlicing': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2, 'devices': ['0']}]}}},
     ["resources[0].devices is ['0']", 'sharing.timeSlicing.resources']),
    ({'sharing': {'mps': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2, 'rename': 'nvidia.com/gpu-x'}]}}},
     ['ignores rename under sharing.mps.resources']),
])
def test_what_the_plugin_would_ignore_is_refused(spec, words):
    with pytest.raises(dp.ConfigError) as info:
        dp.build_config(spec, GPUS)
    for word in words:
        assert word in str(info.value)


def test_what_the_plugin_keeps_is_accepted():
    config = dp.build_config({'replicas': 4, 'rename_by_default': True, 'resources': [
        {'name': 'nvidia.com/gpu', 'rename': 'nvidia.com/gpu.shared', 'devices': 'all'}]})
    assert config['sharing']['timeSlicing'] == {'renameByDefault': True, 'resources': [
        {'name': 'nvidia.com/gpu', 'rename': 'nvidia.com/gpu.shared', 'devices': 'all', 'replicas': 4}]}


# ---- the labels GPU feature discovery sets (internal/lm/resource.go, v0.20) ----
# Its rules, as this test reads them: for the resource nvidia.com/gpu, replicas is that resource's
# replicas in the active sharing section, else 1; sharing-strategy is the config's strategy
# (mps, time-slicing) when those replicas are above 1, else none; product is the GPU name with
# characters other than [A-Za-z0-9-_. ] removed and runs of spaces joined by '-', plus '-SHARED'
# when shared and not renamed (renameByDefault is the only rename the plugin keeps);
# mps.capable is true when the active strategy is MPS; count is the number of GPUs of the model.

def gpu(index, name='Tesla T4', mig=None):
    return {'index': index, 'uuid': 'GPU-%08d-0000-0000-0000-000000000000' % index, 'name': name,
            'compute_capability': '8.0', 'mig_mode': mig}


MIG_ON = {'current': 'enabled', 'pending': 'enabled'}


@pytest.mark.parametrize('spec, gpus, labels', [
    ({'replicas': 4}, [gpu(0)],
     {'sharing-strategy': 'time-slicing', 'replicas': '4', 'mps': 'false', 'product': 'Tesla-T4-SHARED', 'count': '1'}),
    ({'replicas': 4, 'rename_by_default': True}, [gpu(0)],
     {'sharing-strategy': 'time-slicing', 'replicas': '4', 'mps': 'false', 'product': 'Tesla-T4', 'count': '1'}),
    ({'strategy': 'mps', 'replicas': 3}, [gpu(0), gpu(1)],
     {'sharing-strategy': 'mps', 'replicas': '3', 'mps': 'true', 'product': 'Tesla-T4-SHARED', 'count': '2'}),
    ({'strategy': 'mps', 'replicas': 3, 'rename_by_default': True, 'fail_requests_greater_than_one': False}, [gpu(0)],
     {'sharing-strategy': 'mps', 'replicas': '3', 'mps': 'true', 'product': 'Tesla-T4', 'count': '1'}),
    ({'strategy': 'none'}, [gpu(0), gpu(1)],
     {'sharing-strategy': 'none', 'replicas': '1', 'mps': 'false', 'product': 'Tesla-T4', 'count': '2'}),
    ({'strategy': 'none'}, None, {'sharing-strategy': 'none', 'replicas': '1', 'mps': 'false'}),
    ({'replicas': 2}, [gpu(0, 'NVIDIA GeForce RTX 3080 Ti (Laptop)')],
     {'sharing-strategy': 'time-slicing', 'replicas': '2', 'mps': 'false',
      'product': 'NVIDIA-GeForce-RTX-3080-Ti-Laptop-SHARED', 'count': '1'}),
    ({'replicas': 2}, [gpu(0, 'Orin  (nvgpu)')],
     {'sharing-strategy': 'time-slicing', 'replicas': '2', 'mps': 'false', 'product': 'Orin-nvgpu-SHARED', 'count': '1'}),
    # Two models: GFD labels them in map order, so which product wins is not known.
    ({'replicas': 2}, [gpu(0), gpu(1, 'NVIDIA A2')], {'sharing-strategy': 'time-slicing', 'replicas': '2', 'mps': 'false'}),
    # Only a MIG resource shared: full GPUs are not.
    ({'mig_strategy': 'mixed', 'resources': [{'name': 'nvidia.com/mig-1g.5gb', 'replicas': 2}]}, None,
     {'sharing-strategy': 'none', 'replicas': '1', 'mps': 'false'}),
    # MIG-enabled GPUs under the none strategy are labelled with sharing disabled.
    ({'replicas': 2}, [gpu(0, 'NVIDIA A100-SXM4-40GB', MIG_ON)], {'sharing-strategy': 'none', 'replicas': '0', 'mps': 'false'}),
    # Under single, the MIG devices are nvidia.com/gpu and carry the config's sharing.
    ({'replicas': 2, 'mig_strategy': 'single'}, [gpu(0, 'NVIDIA A100-SXM4-40GB', MIG_ON)],
     {'sharing-strategy': 'time-slicing', 'replicas': '2', 'mps': 'false'}),
])
def test_expected_labels_follow_gpu_feature_discovery(spec, gpus, labels):
    names = {'sharing-strategy': 'nvidia.com/gpu.sharing-strategy', 'replicas': 'nvidia.com/gpu.replicas',
             'mps': 'nvidia.com/mps.capable', 'product': 'nvidia.com/gpu.product', 'count': 'nvidia.com/gpu.count'}
    expected = dict((names[key], value) for key, value in labels.items())
    assert dp.expected_node_labels(dp.build_config(spec, gpus), gpus) == expected
