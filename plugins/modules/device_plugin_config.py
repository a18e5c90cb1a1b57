#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: device_plugin_config
short_description: Build and write NVIDIA device plugin sharing configs (time-slicing, MPS)
version_added: 0.1.0
description:
  - Builds the NVIDIA Kubernetes device plugin's configuration file (format C(v1)) for GPU
    sharing by time-slicing (C(sharing.timeSlicing)) or MPS (C(sharing.mps)), as data, and
    dumps it as YAML.
  - Writes it to O(dest) (atomically, with O(backup), check mode and C(--diff)) and/or returns a
    ConfigMap with several named configs (O(profiles)) for the GPU Operator, where each node picks
    one through the label C(nvidia.com/device-plugin.config).
  - Every config is checked the way the plugin (NVIDIA k8s-device-plugin v0.20) checks it before
    anything is written, that is C(version) v1, non-empty C(resources), 2 to 1024 C(replicas)
    for sharing, MPS not with C(mig_strategy=mixed) nor on MIG-enabled GPUs, at most 48 MPS
    replicas (16 before compute capability 7.5), every flag and its value, and time-slicing and
    MPS never together. Each refusal names the field and the value.
  - What the plugin would read and then silently drop is refused too, with the reason; today
    it ignores C(rename) and C(devices) under C(sharing.timeSlicing.resources) and
    C(sharing.mps.resources) (see O(resources)).
author:
  - Edge GPU maintainers (@edge-gpu)
requirements:
  - PyYAML on the host that runs the module, to write O(dest) or build O(profiles)
extends_documentation_fragment:
  - edge_gpu.sharing.file_attributes
attributes:
  check_mode:
    support: full
    description: Reports whether O(dest) would change and writes nothing.
  diff_mode:
    support: full
    description: Old and new contents of O(dest).
options:
  version:
    description:
      - Version of the config file format; the plugin reads V(v1) only.
    type: str
    choices: [v1]
    default: v1
  strategy:
    description:
      - How the GPUs of a node are shared. V(none) writes a config without a C(sharing) section.
      - When left out, V(time_slicing) (or what O(sharing) says).
    type: str
    choices: [time_slicing, mps, none]
  replicas:
    description:
      - How many containers may share each GPU; applies to every resource that sets no
        C(replicas) of its own. From 2 to 1024.
    type: int
  resources:
    description:
      - The resources to share; by default C(nvidia.com/gpu) on all GPUs.
    type: list
    elements: dict
    suboptions:
      name:
        description: Resource name, V(nvidia.com/gpu) or a MIG resource such as V(nvidia.com/mig-1g.5gb).
        type: str
        default: nvidia.com/gpu
      rename:
        description:
          - The name to advertise the shared resource under. The device plugin ignores it (it
            advertises the resource under its own name, so pods that ask for the new name stay
            Pending); only C(<name>.shared) together with O(rename_by_default=true) is what the
            plugin does, so anything else is refused.
        type: str
      devices:
        description:
          - Which GPUs to share. The device plugin shares every GPU of the node whatever this
            says, so only V(all) is accepted; give nodes whose GPUs must not be shared another
            profile.
        type: raw
      replicas:
        description: Replicas of this resource (overrides O(replicas)).
        type: int
  rename_by_default:
    description: Advertise shared resources as C(<name>.shared) (C(renameByDefault)).
    type: bool
  fail_requests_greater_than_one:
    description: Make the plugin refuse containers that ask for more than one shared GPU (C(failRequestsGreaterThanOne)).
    type: bool
  mig_strategy:
    description: The plugin's MIG strategy (C(flags.migStrategy)).
    type: str
    choices: [none, single, mixed]
  flags:
    description:
      - "The plugin's C(flags), spelt as in its config file (for example
        C({failOnInitError: true, plugin: {deviceIDStrategy: uuid}})): C(migStrategy) (none,
        single, mixed), C(failOnInitError), C(mpsRoot), C(nvidiaDriverRoot), C(nvidiaDevRoot),
        C(gdrcopyEnabled), C(gdsEnabled), C(mofedEnabled), C(useNodeFeatureAPI),
        C(deviceDiscoveryStrategy) (auto, nvml, tegra); under C(plugin): C(passDeviceSpecs),
        C(deviceListStrategy) (one or a list of envvar, volume-mounts, cdi-annotations, cdi-cri),
        C(deviceIDStrategy) (uuid, index), C(cdiAnnotationPrefix), C(nvidiaCTKPath),
        C(containerDriverRoot), C(sharedDevicesAllocationPolicy) (distributed, packed); under
        C(gfd): C(oneshot), C(noTimestamp), C(sleepInterval) (a duration such as V(60s), or
        V(infinite)), C(outputFile), C(machineTypeFile)."
      - Booleans may be given as strings (V('false')); paths must be absolute and normalised.
        Unknown flags and values the plugin refuses are refused, naming the flag.
    type: dict
  sharing:
    description:
      - A C(sharing) section exactly as the plugin spells it (C(timeSlicing) or C(mps)), instead
        of O(strategy), O(resources), O(rename_by_default) and O(fail_requests_greater_than_one).
        Useful for configs that already exist.
    type: dict
  gpus:
    description:
      - The node's GPUs as M(edge_gpu.sharing.gpu_info) returns them (RV(edge_gpu.sharing.gpu_info#module:gpu_info.gpus)).
      - When given, MIG mode and the MPS replica limit are checked against them, and
        RV(expected_labels) includes the product and count labels.
    type: list
    elements: dict
  dest:
    description:
      - Write the config built from the options above to this file (the plugin's C(--config-file)).
      - With only O(profiles) given, the ConfigMap manifest is written here instead.
    type: path
  backup:
    description: Keep a timestamped copy of O(dest) before replacing it.
    type: bool
    default: false
  profiles:
    description:
      - "Named configs for one ConfigMap, each a dictionary with the same options as a single
        config (O(strategy), O(replicas), O(resources), O(rename_by_default),
        O(fail_requests_greater_than_one), O(mig_strategy), O(flags), O(sharing)), for example
        C({t4-x4: {strategy: time_slicing, replicas: 4}, t4-mps: {strategy: mps, replicas: 2}})."

      - Names must be usable as ConfigMap keys and label values.
    type: dict
  default_profile:
    description: The profile nodes without a C(nvidia.com/device-plugin.config) label use; must be one of O(profiles).
    type: str
  configmap_name:
    description: Name of the ConfigMap holding the profiles.
    type: str
    default: device-plugin-config
  namespace:
    description: Namespace of the ConfigMap.
    type: str
    default: gpu-operator
seealso:
  - module: edge_gpu.sharing.gpu_info
  - name: NVIDIA device plugin
    description: The configuration file this module writes.
    link: https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus
'''

EXAMPLES = r'''
- name: Let four pods share each GPU of the node (standalone device plugin)
  edge_gpu.sharing.device_plugin_config:
    strategy: time_slicing
    replicas: 4
    fail_requests_greater_than_one: true
    dest: /etc/nvidia-device-plugin/config.yaml
    backup: true

- name: Check an MPS config against the node's GPUs first
  edge_gpu.sharing.gpu_info:
  register: node

- name: Two MPS replicas per GPU, refused on MIG-enabled GPUs
  edge_gpu.sharing.device_plugin_config:
    strategy: mps
    replicas: 2
    gpus: "{{ node.gpu_info.gpus }}"
    dest: /etc/nvidia-device-plugin/config.yaml

- name: Several profiles in one ConfigMap for the GPU Operator
  edge_gpu.sharing.device_plugin_config:
    profiles:
      t4-x4: {strategy: time_slicing, replicas: 4}
      t4-mps: {strategy: mps, replicas: 2}
    default_profile: t4-x4
    configmap_name: device-plugin-config
    namespace: gpu-operator
  register: plugin
  delegate_to: localhost

- name: Apply it
  kubernetes.core.k8s:
    definition: "{{ plugin.configmap }}"
  delegate_to: localhost
'''

RETURN = r'''
error_kind:
  description:
    - On failure, what kind of failure it was (the same key in every module of the collection).
      V(device_plugin_config) for a config the plugin would refuse or misread,
      V(invalid_option) for other bad values, V(file) when O(dest) cannot be written,
      V(missing_library) without PyYAML.
  returned: failure
  type: str
  sample: device_plugin_config
config:
  description: The config built from the top-level options (absent with only O(profiles)).
  returned: when not only profiles are given
  type: dict
  sample: {version: v1, sharing: {timeSlicing: {resources: [{name: nvidia.com/gpu, replicas: 4}]}}}
configmap:
  description: The ConfigMap with one key per profile, each holding that profile's config as YAML.
  returned: when O(profiles) is given
  type: dict
profiles:
  description: Each profile's config as data.
  returned: when O(profiles) is given
  type: dict
expected_labels:
  description:
    - The node labels GPU feature discovery sets for the config (for checking a node after the
      plugin restarted), per profile when O(profiles) is given, by its rules - C(nvidia.com/gpu.replicas)
      (1 when not shared), C(nvidia.com/gpu.sharing-strategy) (V(none) unless shared),
      C(nvidia.com/mps.capable), and with O(gpus) of one model C(nvidia.com/gpu.count) and
      C(nvidia.com/gpu.product), which ends in C(-SHARED) only when the GPUs are shared and not
      renamed (O(rename_by_default)).
  returned: always
  type: dict
  sample: {nvidia.com/gpu.sharing-strategy: time-slicing, nvidia.com/gpu.replicas: '4', nvidia.com/mps.capable: 'false'}
dest:
  description: The file written.
  returned: when O(dest) is given
  type: str
backup_file:
  description: The backup of the previous O(dest).
  returned: when a backup was made
  type: str
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.edge_gpu.sharing.plugins.module_utils import files
from ansible_collections.edge_gpu.sharing.plugins.module_utils import units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import device_plugin, serialize
from ansible_collections.edge_gpu.sharing.plugins.module_utils.runner import run_module

SINGLE_OPTIONS = device_plugin.PROFILE_OPTIONS


def build(module):
    params = module.params
    if params['dest']:
        # Relative paths would depend on the task's working directory.
        units.absolute_path(params['dest'], 'dest')
    # Checking a config needs nothing; writing one or building the ConfigMap's YAML needs PyYAML.
    if serialize.yaml is None and (params['dest'] or params['profiles'] is not None):
        module.fail_json(msg=missing_required_lib('PyYAML'), exception=serialize.YAML_IMPORT_ERROR,
                         error_kind='missing_library')
    attributes = files.file_attributes(params)
    gpus = params['gpus']
    # With only profiles, no single config is built; any top-level sharing option asks for one.
    single = params['profiles'] is None or any(params[key] is not None for key in SINGLE_OPTIONS)
    result = dict(changed=False)
    if single:
        spec = dict((key, params[key]) for key in SINGLE_OPTIONS)
        # Resource suboptions arrive with every key present; unset ones are left out.
        if spec['resources'] is not None:
            spec['resources'] = [dict((k, v) for k, v in item.items() if v is not None) for item in spec['resources']]
        result['config'] = device_plugin.build_config(spec, gpus)
        result['expected_labels'] = device_plugin.expected_node_labels(result['config'], gpus)
    if params['profiles'] is not None:
        configs = device_plugin.build_profiles(params['profiles'], gpus)
        result['profiles'] = configs
        result['configmap'] = device_plugin.build_configmap(
            configs, name=params['configmap_name'], namespace=params['namespace'], dump=serialize.dump_yaml,
            default_profile=params['default_profile'])
        result['expected_labels'] = dict((name, device_plugin.expected_node_labels(config, gpus))
                                         for name, config in configs.items())

    if params['dest']:
        content = serialize.dump_yaml(result['config'] if single else result['configmap'])
        written = files.write_file(module, params['dest'], content, attributes, backup=params['backup'])
        result.update(changed=written['changed'], dest=params['dest'])
        if written['backup_file']:
            result['backup_file'] = written['backup_file']
        if module._diff:
            result['diff'] = files.module_diff(written)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            version=dict(type='str', choices=[device_plugin.CONFIG_VERSION], default=device_plugin.CONFIG_VERSION),
            strategy=dict(type='str', choices=list(device_plugin.STRATEGIES)),
            replicas=dict(type='int'),
            resources=dict(type='list', elements='dict', options=dict(
                name=dict(type='str', default=device_plugin.DEFAULT_RESOURCE),
                rename=dict(type='str'),
                devices=dict(type='raw'),
                replicas=dict(type='int'),
            )),
            rename_by_default=dict(type='bool'),
            fail_requests_greater_than_one=dict(type='bool'),
            mig_strategy=dict(type='str', choices=list(device_plugin.MIG_STRATEGIES)),
            flags=dict(type='dict'),
            sharing=dict(type='dict'),
            gpus=dict(type='list', elements='dict'),
            dest=dict(type='path'),
            backup=dict(type='bool', default=False),
            profiles=dict(type='dict'),
            default_profile=dict(type='str'),
            configmap_name=dict(type='str', default='device-plugin-config'),
            namespace=dict(type='str', default='gpu-operator'),
            **files.FILE_ARGUMENT_SPEC
        ),
        required_by={'default_profile': 'profiles'},
        supports_check_mode=True,
    )
    run_module(module, build)


if __name__ == '__main__':
    main()
