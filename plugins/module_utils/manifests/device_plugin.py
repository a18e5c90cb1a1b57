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

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules, units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ConfigError, InvalidOption, ManifestError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import k8s_names

CONFIG_VERSION = 'v1'
DEFAULT_RESOURCE = 'nvidia.com/gpu'
PROFILE_LABEL = 'nvidia.com/device-plugin.config'
STRATEGIES = ('time_slicing', 'mps', 'none')
# The options of one config (the module's top-level options, and each profile's).
# The plugin lists every replica to the kubelet as a device of its own: thousands per GPU only
# bloat the node's status, and a number past Go's int makes the plugin refuse its whole config.
MAX_REPLICAS = 1024

PROFILE_OPTIONS = ('strategy', 'replicas', 'resources', 'rename_by_default', 'fail_requests_greater_than_one',
                   'mig_strategy', 'flags', 'sharing')
MIG_STRATEGIES = ('none', 'single', 'mixed')
# The plugin's own spelling of each strategy (config key, node label value).
SHARING_KEYS = {'time_slicing': 'timeSlicing', 'mps': 'mps'}
SHARING_LABELS = {'time_slicing': 'time-slicing', 'mps': 'mps', 'none': 'none'}
# What renameByDefault appends to a shared resource's name.
SHARED_SUFFIX = '.shared'

# The plugin's config flags (NVIDIA k8s-device-plugin v0.20, api/config/v1/flags.go), spelt as in
# its YAML, each with the one check its value gets: a tuple is the values the plugin accepts.
BOOL, PATH, DURATION = 'bool', 'path', 'duration'
DEVICE_LIST, CDI_PREFIX, OUTPUT_FILE = 'device_list', 'cdi_prefix', 'output_file'
DEVICE_ID_STRATEGIES = ('uuid', 'index')
DEVICE_LIST_STRATEGIES = ('envvar', 'volume-mounts', 'cdi-annotations', 'cdi-cri')
# GPU feature discovery also takes vfio, but the device plugin refuses it and does not start.
DEVICE_DISCOVERY_STRATEGIES = ('auto', 'nvml', 'tegra')
ALLOCATION_POLICIES = ('distributed', 'packed')
FLAGS = {
    'migStrategy': MIG_STRATEGIES, 'failOnInitError': BOOL, 'mpsRoot': PATH, 'nvidiaDriverRoot': PATH,
    'nvidiaDevRoot': PATH, 'gdrcopyEnabled': BOOL, 'gdsEnabled': BOOL, 'mofedEnabled': BOOL,
    'useNodeFeatureAPI': BOOL, 'deviceDiscoveryStrategy': DEVICE_DISCOVERY_STRATEGIES,
    'plugin': {'passDeviceSpecs': BOOL, 'deviceListStrategy': DEVICE_LIST, 'deviceIDStrategy': DEVICE_ID_STRATEGIES,
               'cdiAnnotationPrefix': CDI_PREFIX, 'nvidiaCTKPath': PATH, 'containerDriverRoot': PATH,
               'sharedDevicesAllocationPolicy': ALLOCATION_POLICIES},
    'gfd': {'oneshot': BOOL, 'noTimestamp': BOOL, 'sleepInterval': DURATION, 'outputFile': OUTPUT_FILE,
            'machineTypeFile': PATH},
}

_RESOURCE_RE = re.compile(r'^nvidia\.com/(gpu|mig-[0-9]+g\.[0-9]+gb)$')
# Go's time.ParseDuration: one or more <number><unit>, as GFD reads sleepInterval.
_DURATION_RE = re.compile(u'^((?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$')
_DURATION_PART = re.compile(u'([0-9]*\\.?[0-9]*)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)')
_NANOSECONDS = {'ns': 1, 'us': 1e3, u'\u00b5s': 1e3, u'\u03bcs': 1e3, 'ms': 1e6, 's': 1e9, 'm': 60e9, 'h': 3600e9}


def _fail(where, field, message):
    raise ConfigError('%s%s %s' % (where, field, message))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _flag_bool(value, field, where):
    try:
        return units.parse_bool(value, where + field)
    except InvalidOption as exc:
        raise ConfigError(str(exc))


def _flag_path(value, field, where):
    try:
        return units.absolute_path(value, where + field)
    except InvalidOption as exc:
        raise ConfigError(str(exc))


def _flag_duration(value, field, where):
    """GFD's sleepInterval: a Go duration above zero (``60s``, ``1m30s``) or ``infinite``."""
    if _is_int(value) or isinstance(value, float):
        _fail(where, field, 'is the bare number %r, which GPU feature discovery reads as nanoseconds; write a '
              'duration such as 60s or 5m, or infinite' % (value,))
    if value == 'infinite':
        return value
    if not isinstance(value, str) or not _DURATION_RE.match(value):
        _fail(where, field, 'must be a duration such as 60s, 5m or 1h30m, or infinite, got %r' % (value,))
    if sum(float(number) * _NANOSECONDS[unit] for number, unit in _DURATION_PART.findall(value)) <= 0:
        _fail(where, field, 'is %r: GPU feature discovery would relabel the node without pause; give a duration '
              'above zero, or infinite' % (value,))
    return value


def _flag_device_list(value, field, where):
    """One strategy or a list of them (the plugin reads both)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        _fail(where, field, 'is an empty list: give one or more of %s' % ', '.join(DEVICE_LIST_STRATEGIES))
    for item in items:
        if item not in DEVICE_LIST_STRATEGIES:
            _fail(where, field, 'has an unknown strategy %r (known: %s)' % (item, ', '.join(DEVICE_LIST_STRATEGIES)))
    return value


def _flag_cdi_prefix(value, field, where):
    """The start of a CDI annotation key: a DNS subdomain and ``/`` (the plugin's default is cdi.k8s.io/)."""
    if not isinstance(value, str) or not value.endswith('/') or not k8s_names.is_dns_subdomain(value[:-1]):
        _fail(where, field, 'must be an annotation key prefix such as cdi.k8s.io/ (a DNS subdomain and /), got %r'
              % (value,))
    return value


def _flag_output_file(value, field, where):
    # Empty: GPU feature discovery prints the labels to its log instead of handing them to NFD.
    if value == '':
        return value
    return _flag_path(value, field, where)


_CHECKS = {BOOL: _flag_bool, PATH: _flag_path, DURATION: _flag_duration, DEVICE_LIST: _flag_device_list,
           CDI_PREFIX: _flag_cdi_prefix, OUTPUT_FILE: _flag_output_file}


def _flag_choice(value, choices, field, where):
    if value not in choices:
        if field.endswith('deviceDiscoveryStrategy') and value == 'vfio':
            _fail(where, field, "is 'vfio', which GPU feature discovery accepts but the device plugin refuses "
                  '(it would not start); use one of %s' % ', '.join(choices))
        _fail(where, field, 'must be one of %s, got %r' % (', '.join(choices), value))
    return value


def _check_flags(flags, where, schema=None, prefix='flags.'):
    """The flags as the plugin will read them (booleans from strings made booleans); refuses unknown ones."""
    schema = FLAGS if schema is None else schema
    if not isinstance(flags, dict):
        _fail(where, prefix.rstrip('.'), 'must be a dictionary, got %r' % (flags,))
    checked = {}
    for key, value in flags.items():
        field = prefix + str(key)
        if key not in schema:
            _fail(where, field, 'is not a flag of the device plugin config (known here: %s)' % ', '.join(sorted(schema)))
        kind = schema[key]
        if value is None:
            _fail(where, field, 'is empty (null); leave the flag out to keep the plugin default')
        if isinstance(kind, dict):
            checked[key] = _check_flags(value, where, kind, field + '.')
        elif isinstance(kind, tuple):
            checked[key] = _flag_choice(value, kind, field, where)
        else:
            checked[key] = _CHECKS[kind](value, field, where)
    if schema is FLAGS:
        gfd = checked.get('gfd', {})
        if gfd.get('outputFile') == '' and not checked.get('useNodeFeatureAPI'):
            _fail(where, 'flags.gfd.outputFile', "is '', so GPU feature discovery would print the labels to its log and "
                  'never label the node; give a file for NFD, or set flags.useNodeFeatureAPI')
    return checked


def _ignored(where, field, value, key, what):
    """A refusal for what the plugin reads and then drops, with the consequence for pods."""
    _fail(where, field, 'is %r, but the NVIDIA device plugin ignores %s under sharing.%s.resources (it logs that '
          'this is not yet supported and goes on without it), %s' % (value, field.rsplit('.', 1)[1], key, what))


def _resources(spec, where, key):
    """The resources to share. ``rename`` and ``devices`` are checked against what the plugin
    really does with them (``DisableResourceNamingInConfig``): it keeps only the ``<name>.shared``
    rename of renameByDefault, and shares every GPU whatever ``devices`` says."""
    resources = spec.get('resources')
    if resources is None:
        resources = [{'name': DEFAULT_RESOURCE}]
    if not isinstance(resources, list) or not resources:
        _fail(where, 'resources', 'must be a non-empty list for sharing, got %r' % (resources,))
    by_default = spec.get('rename_by_default') is True
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
        if not _is_int(replicas) or not 2 <= replicas <= MAX_REPLICAS:
            _fail(where, field + '.replicas' if 'replicas' in resource else 'replicas',
                  'must be a whole number from 2 (to share a GPU) to %d, got %r' % (MAX_REPLICAS, replicas))
        item = {'name': name}
        rename = resource.get('rename')
        if rename is not None:
            if not k8s_names.is_qualified_name(rename):
                _fail(where, field + '.rename', 'must be a resource name such as nvidia.com/gpu.shared, got %r' % (rename,))
            shared_name = name + SHARED_SUFFIX
            if not (by_default and rename == shared_name):
                _ignored(where, field + '.rename', rename, key, 'and advertises %s instead, so pods that ask for %s '
                         'would stay Pending; leave rename out, or set rename_by_default to advertise %s'
                         % (shared_name if by_default else name, rename, shared_name))
            item['rename'] = rename
        devices = resource.get('devices')
        if devices is not None:
            if devices != 'all':
                _ignored(where, field + '.devices', devices, key, 'and shares every GPU of the node; leave devices '
                         'out (or all), and give nodes whose GPUs must not be shared another profile')
            item['devices'] = devices
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

    ``gpus`` is the node's ``gpu_info`` GPU list, when known: it lets MIG and the MPS client
    limit be checked against the real node. ``where`` prefixes
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

    flags = _check_flags(spec.get('flags', {}), where)
    if 'mig_strategy' in spec:
        _flag_choice(spec['mig_strategy'], MIG_STRATEGIES, 'mig_strategy', where)
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
            spec[option] = body[key] = _flag_bool(spec[option], option, where)
    body['resources'] = _resources(spec, where, SHARING_KEYS[strategy])
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


def product_label(name):
    """A GPU name as GPU feature discovery writes it in ``nvidia.com/gpu.product``: characters
    other than letters, digits, ``-``, ``_``, ``.`` and spaces dropped, each run of spaces one ``-``."""
    return '-'.join(re.sub(r'[^A-Za-z0-9._ -]', '', name).split())


def expected_node_labels(config, gpus=None):
    """The labels GPU feature discovery puts on a node that loaded ``config`` (its rules, v0.20).

    For full GPUs (resource ``nvidia.com/gpu``): ``replicas`` is that resource's replicas (1 when
    it is not shared); ``sharing-strategy`` is the config's strategy only when those replicas are
    above 1; ``product`` ends in ``-SHARED`` only when the resource is shared and not renamed (the
    only rename the plugin keeps is renameByDefault's); ``mps.capable`` is true only with MPS.
    ``gpus`` (``gpu_info``'s list) adds ``product`` and ``count`` where the node has one GPU model;
    MIG-enabled GPUs are labelled without sharing under the none and mixed MIG strategies.
    """
    sharing = config.get('sharing') or {}
    key = 'mps' if 'mps' in sharing else 'timeSlicing' if 'timeSlicing' in sharing else None
    body = sharing.get(key) or {}
    full = [r for r in body.get('resources', []) if r['name'] == DEFAULT_RESOURCE]
    replicas = full[0]['replicas'] if full else 1
    shared = replicas > 1
    strategy = {'mps': 'mps', 'timeSlicing': 'time-slicing'}[key] if shared else 'none'
    mig_strategy = (config.get('flags') or {}).get('migStrategy', 'none')
    gpus = gpus or []
    if gpus and all(gpu_rules.mig_enabled(gpu) for gpu in gpus) and mig_strategy != 'single':
        # GFD labels MIG-enabled GPUs as full GPUs with sharing disabled.
        replicas, shared, strategy = 0, False, 'none'
    labels = {
        'nvidia.com/gpu.sharing-strategy': strategy,
        'nvidia.com/gpu.replicas': str(replicas),
        'nvidia.com/mps.capable': 'true' if key == 'mps' else 'false',
    }
    names = set(gpu.get('name') for gpu in gpus)
    if len(names) == 1 and None not in names and not any(gpu_rules.mig_enabled(gpu) for gpu in gpus):
        name = product_label(names.pop())
        renamed = bool(body.get('renameByDefault'))
        labels['nvidia.com/gpu.product'] = name + '-SHARED' if shared and not renamed else name
        labels['nvidia.com/gpu.count'] = str(len(gpus))
    return labels
