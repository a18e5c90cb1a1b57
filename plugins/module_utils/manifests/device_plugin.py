# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""NVIDIA device plugin configuration (``version: v1``), built and checked as data.

Plain Python, no Ansible imports. ``build_config`` turns the collection's options into
the plugin's config and refuses, before anything is written, what the plugin would
refuse or mishandle; ``build_configmap`` puts several named configs into one ConfigMap
for the GPU Operator (each node picks one with ``nvidia.com/device-plugin.config``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ConfigError, ManifestError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import k8s_names

CONFIG_VERSION = 'v1'
DEFAULT_RESOURCE = 'nvidia.com/gpu'
PROFILE_LABEL = 'nvidia.com/device-plugin.config'
STRATEGIES = ('time_slicing', 'mps', 'none')
# The options of one config (the module's top-level options, and each profile's).
PROFILE_OPTIONS = ('strategy', 'replicas', 'resources', 'rename_by_default', 'fail_requests_greater_than_one',
                   'mig_strategy', 'flags', 'sharing')
MIG_STRATEGIES = ('none', 'single', 'mixed')
# The plugin's own spelling of each strategy (config key, node label value).
SHARING_KEYS = {'time_slicing': 'timeSlicing', 'mps': 'mps'}
SHARING_LABELS = {'time_slicing': 'time-slicing', 'mps': 'mps', 'none': 'none'}

# The plugin's documented flags: shared ones at the top, plugin-only ones under "plugin".
FLAGS = {
    'migStrategy': str, 'failOnInitError': bool, 'nvidiaDriverRoot': str, 'gdsEnabled': bool,
    'mofedEnabled': bool, 'useNodeFeatureAPI': bool, 'deviceDiscoveryStrategy': str,
    'plugin': {'passDeviceSpecs': bool, 'deviceListStrategy': (str, list), 'deviceIDStrategy': str,
               'containerDriverRoot': str, 'cdiAnnotationPrefix': str, 'nvidiaCTKPath': str},
}
DEVICE_ID_STRATEGIES = ('uuid', 'index')
DEVICE_LIST_STRATEGIES = ('envvar', 'volume-mounts', 'cdi-annotations', 'cdi-cri')

_RESOURCE_RE = re.compile(r'^nvidia\.com/(gpu|mig-[0-9]+g\.[0-9]+gb)$')
_MIG_INDEX_RE = re.compile(r'^[0-9]+:[0-9]+$')


def _fail(where, field, message):
    raise ConfigError('%s%s %s' % (where, field, message))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_flags(flags, where, schema=None, prefix='flags.'):
    schema = FLAGS if schema is None else schema
    if not isinstance(flags, dict):
        _fail(where, prefix.rstrip('.'), 'must be a dictionary, got %r' % (flags,))
    for key, value in flags.items():
        if key not in schema:
            _fail(where, prefix + str(key), 'is not a documented device plugin flag (known: %s)' % ', '.join(sorted(schema)))
        kind = schema[key]
        if isinstance(kind, dict):
            _check_flags(value, where, kind, prefix + key + '.')
        elif not isinstance(value, kind) or (kind is str and isinstance(value, bool)):
            _fail(where, prefix + key, 'has the wrong type: %r' % (value,))
    if 'migStrategy' in flags and flags['migStrategy'] not in MIG_STRATEGIES:
        _fail(where, prefix + 'migStrategy', 'must be one of %s, got %r' % (', '.join(MIG_STRATEGIES), flags['migStrategy']))
    plugin = flags.get('plugin', {}) if schema is FLAGS else {}
    if 'deviceIDStrategy' in plugin and plugin['deviceIDStrategy'] not in DEVICE_ID_STRATEGIES:
        _fail(where, 'flags.plugin.deviceIDStrategy', 'must be uuid or index, got %r' % (plugin['deviceIDStrategy'],))
    strategies = plugin.get('deviceListStrategy')
    for item in (strategies if isinstance(strategies, list) else [strategies] if strategies else []):
        if item not in DEVICE_LIST_STRATEGIES:
            _fail(where, 'flags.plugin.deviceListStrategy', 'has an unknown strategy %r' % (item,))


def _devices(value, field, where, gpus):
    """The plugin's ``devices``: ``all``, a count, or a list of GPU indexes / UUIDs."""
    if value == 'all':
        return 'all'
    if _is_int(value):
        if value <= 0:
            _fail(where, field, 'must be all, a count above 0, or a list of GPUs, got %r' % (value,))
        if gpus is not None and value > len(gpus):
            _fail(where, field, 'asks for %d GPUs but the node has %d' % (value, len(gpus)))
        return value
    if not isinstance(value, list) or not value:
        _fail(where, field, 'must be all, a count above 0, or a non-empty list of GPUs, got %r' % (value,))
    uuids = set(gpu['uuid'].lower() for gpu in gpus or [])
    result = []
    for item in value:
        text = str(item) if _is_int(item) else item
        if not isinstance(text, str) or not (text.isdigit() or gpu_rules.GPU_UUID_RE.match(text)
                                             or gpu_rules.MIG_UUID_RE.match(text) or _MIG_INDEX_RE.match(text)):
            _fail(where, field, 'has %r, which is neither a GPU index nor a GPU or MIG UUID' % (item,))
        if gpus is not None:
            if text.isdigit() and int(text) >= len(gpus):
                _fail(where, field, 'names GPU %s but the node has GPUs 0-%d' % (text, len(gpus) - 1))
            if text.startswith('GPU-') and text.lower() not in uuids:
                _fail(where, field, 'names %s, which is not a GPU of the node' % text)
        result.append(text)
    return result


def _resources(spec, where, gpus):
    resources = spec.get('resources')
    if resources is None:
        resources = [{'name': DEFAULT_RESOURCE}]
    if not isinstance(resources, list) or not resources:
        _fail(where, 'resources', 'must be a non-empty list for sharing, got %r' % (resources,))
    result = []
    for position, resource in enumerate(resources):
        field = 'resources[%d]' % position
        if not isinstance(resource, dict):
            _fail(where, field, 'must be a dictionary, got %r' % (resource,))
        unknown = sorted(set(resource) - set(('name', 'rename', 'devices', 'replicas')))
        if unknown:
            _fail(where, field, 'has unknown keys %s' % ', '.join(unknown))
        name = resource.get('name', DEFAULT_RESOURCE)
        if not isinstance(name, str) or not _RESOURCE_RE.match(name):
            _fail(where, field + '.name', 'must be nvidia.com/gpu or nvidia.com/mig-<g>g.<mem>gb, got %r' % (name,))
        replicas = resource.get('replicas', spec.get('replicas'))
        if not _is_int(replicas) or replicas < 2:
            _fail(where, field + '.replicas' if 'replicas' in resource else 'replicas',
                  'must be a whole number of at least 2 to share a GPU, got %r' % (replicas,))
        item = {'name': name}
        if resource.get('rename') is not None:
            rename = resource['rename']
            if not k8s_names.is_qualified_name(rename):
                _fail(where, field + '.rename', 'must be a resource name such as nvidia.com/gpu-shared, got %r' % (rename,))
            item['rename'] = rename
        if resource.get('devices') is not None:
            item['devices'] = _devices(resource['devices'], field + '.devices', where, gpus)
        item['replicas'] = replicas
        result.append(item)
    return result


def _from_sharing(sharing, where):
    """Options from the plugin's own ``sharing`` section (for configs written by hand)."""
    if not isinstance(sharing, dict):
        _fail(where, 'sharing', 'must be a dictionary, got %r' % (sharing,))
    present = [key for key in ('timeSlicing', 'mps') if key in sharing]
    if len(present) > 1:
        _fail(where, 'sharing', 'sets both timeSlicing and mps: time-slicing and MPS are mutually exclusive')
    unknown = sorted(set(sharing) - set(('timeSlicing', 'mps')))
    if unknown or not present:
        _fail(where, 'sharing', 'must hold timeSlicing or mps, got keys %s' % (', '.join(sorted(sharing)) or 'none'))
    body = sharing[present[0]]
    if not isinstance(body, dict):
        _fail(where, 'sharing.' + present[0], 'must be a dictionary, got %r' % (body,))
    unknown = sorted(set(body) - set(('resources', 'renameByDefault', 'failRequestsGreaterThanOne')))
    if unknown:
        _fail(where, 'sharing.' + present[0], 'has unknown keys %s' % ', '.join(unknown))
    return {
        'strategy': 'time_slicing' if present[0] == 'timeSlicing' else 'mps',
        'resources': body.get('resources', []),
        'rename_by_default': body.get('renameByDefault'),
        'fail_requests_greater_than_one': body.get('failRequestsGreaterThanOne'),
    }


def build_config(spec, gpus=None, where=''):
    """The device plugin config for ``spec`` (the module's options), as a dict.

    ``gpus`` is the node's ``gpu_info`` GPU list, when known: it lets the device selectors,
    MIG and the MPS client limit be checked against the real node. ``where`` prefixes
    every message (for example ``profiles.t4-mps: ``).
    """
    spec = dict((key, value) for key, value in spec.items() if value is not None)
    if 'sharing' in spec:
        if spec.get('strategy') not in (None, 'none') or 'resources' in spec:
            _fail(where, 'sharing', 'cannot be combined with strategy or resources: give one or the other')
        spec.update(_from_sharing(spec.pop('sharing'), where))
        spec = dict((key, value) for key, value in spec.items() if value is not None)
    strategy = spec.get('strategy', 'time_slicing')
    if strategy not in STRATEGIES:
        _fail(where, 'strategy', 'must be one of %s, got %r' % (', '.join(STRATEGIES), strategy))

    _check_flags(spec.get('flags', {}), where)
    flags = dict(spec.get('flags', {}))
    if 'mig_strategy' in spec:
        if spec['mig_strategy'] not in MIG_STRATEGIES:
            _fail(where, 'mig_strategy', 'must be one of %s, got %r' % (', '.join(MIG_STRATEGIES), spec['mig_strategy']))
        if flags.get('migStrategy', spec['mig_strategy']) != spec['mig_strategy']:
            _fail(where, 'mig_strategy', '%r contradicts flags.migStrategy %r' % (spec['mig_strategy'], flags['migStrategy']))
        flags['migStrategy'] = spec['mig_strategy']

    config = {'version': CONFIG_VERSION}
    if flags:
        config['flags'] = flags
    if strategy == 'none':
        extra = sorted(key for key in ('replicas', 'resources', 'rename_by_default', 'fail_requests_greater_than_one') if key in spec)
        if extra:
            _fail(where, extra[0], 'only applies to sharing, but strategy is none')
        return config

    if strategy == 'mps':
        if flags.get('migStrategy') == 'mixed':
            _fail(where, 'mig_strategy', "is 'mixed', but MPS sharing is not supported with the mixed MIG strategy")
        mig = [gpu for gpu in gpus or [] if gpu_rules.mig_enabled(gpu)]
        if mig:
            _fail(where, 'strategy', "is 'mps', but MPS sharing is not supported on MIG-enabled GPUs: %s"
                  % gpu_rules.labels(mig))

    body = {}
    for option, key in (('rename_by_default', 'renameByDefault'), ('fail_requests_greater_than_one', 'failRequestsGreaterThanOne')):
        if option in spec:
            if not isinstance(spec[option], bool):
                _fail(where, option, 'must be true or false, got %r' % (spec[option],))
            body[key] = spec[option]
    body['resources'] = _resources(spec, where, gpus)
    if strategy == 'mps':
        limit = gpu_rules.mps_client_limit(gpus)
        for position, resource in enumerate(body['resources']):
            if resource['replicas'] > limit:
                _fail(where, 'resources[%d].replicas' % position if spec.get('resources') else 'replicas',
                      'is %d, but MPS serves at most %d clients per GPU%s' % (
                          resource['replicas'], limit, '' if limit == gpu_rules.MPS_MAX_CLIENTS else
                          ' before compute capability %d.%d' % gpu_rules.VOLTA_MPS))
            if resource['name'] != DEFAULT_RESOURCE:
                _fail(where, 'resources[%d].name' % position, 'is %r, but MPS shares only full GPUs (nvidia.com/gpu)'
                      % resource['name'])
    config['sharing'] = {SHARING_KEYS[strategy]: body}
    return config


def check_configmap_identity(name, namespace):
    try:
        k8s_names.check_object_name(name, 'configmap_name')
        k8s_names.check_namespace(namespace)
    except ManifestError as exc:
        raise ConfigError(str(exc))


def build_profiles(profiles, gpus=None):
    """``{profile name: config}`` for every profile, each checked like a single config."""
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError('profiles must be a non-empty dictionary of profile name to options')
    configs = {}
    for name in sorted(profiles):
        if not (k8s_names.is_configmap_key(name) and k8s_names.is_label_value(name)) or not name:
            raise ConfigError('profiles: %r is not usable as a ConfigMap key and node label value '
                              '(letters, digits, -, _ and . only, at most 63)' % (name,))
        options = profiles[name]
        if not isinstance(options, dict):
            raise ConfigError('profiles.%s must be a dictionary of options, got %r' % (name, options))
        unknown = sorted(set(options) - set(PROFILE_OPTIONS))
        if unknown:
            raise ConfigError('profiles.%s: unknown option(s) %s (known: %s)'
                              % (name, ', '.join(map(str, unknown)), ', '.join(PROFILE_OPTIONS)))
        configs[name] = build_config(options, gpus, where='profiles.%s: ' % name)
    return configs


def build_configmap(configs, name, namespace, dump, default_profile=None):
    """The ConfigMap holding each profile's config as a YAML document under its name."""
    check_configmap_identity(name, namespace)
    if default_profile is not None and default_profile not in configs:
        raise ConfigError('default_profile %r is not one of the profiles (%s)' % (default_profile, ', '.join(sorted(configs))))
    return {
        'apiVersion': 'v1',
        'kind': 'ConfigMap',
        'metadata': {'name': name, 'namespace': namespace,
                     'labels': dict(k8s_names.MANAGED_BY)},
        'data': dict((profile, dump(configs[profile])) for profile in sorted(configs)),
    }


def expected_node_labels(config, product=None):
    """The labels the plugin / GPU feature discovery put on a node that loaded ``config``."""
    sharing = config.get('sharing') or {}
    strategy = 'time_slicing' if 'timeSlicing' in sharing else 'mps' if 'mps' in sharing else 'none'
    labels = {'nvidia.com/gpu.sharing-strategy': SHARING_LABELS[strategy]}
    if strategy != 'none':
        body = sharing[SHARING_KEYS[strategy]]
        gpu = [r for r in body['resources'] if r['name'] == DEFAULT_RESOURCE]
        if gpu:
            labels['nvidia.com/gpu.replicas'] = str(gpu[0]['replicas'])
        if product:
            labels['nvidia.com/gpu.product'] = product.replace(' ', '-') + '-SHARED'
    return labels
