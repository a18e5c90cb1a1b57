# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Azure IoT Edge deployment manifests that carry a sharing plan, built as data.

Plain Python, no Ansible imports. One module per workload with its environment
(``NVIDIA_VISIBLE_DEVICES``, MPS variables) and ``createOptions`` serialised as JSON and
split into 512-character chunks, as the IoT Edge agent expects. A workload's own create
options are merged with what the plan needs, never dropped, and refused where they contradict it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import re

from ansible_collections.edge_gpu.sharing.plugins.module_utils import units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ManifestError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.plan import PLAN_VARIABLES

SCHEMA_VERSION = '1.1'
CHUNK = 512
MAX_CHUNKS = 8
EDGE_AGENT_IMAGE = 'mcr.microsoft.com/azureiotedge-agent:1.5'
EDGE_HUB_IMAGE = 'mcr.microsoft.com/azureiotedge-hub:1.5'
EDGE_HUB_CREATE_OPTIONS = {'HostConfig': {'PortBindings': {
    '5671/tcp': [{'HostPort': '5671'}], '8883/tcp': [{'HostPort': '8883'}], '443/tcp': [{'HostPort': '443'}]}}}
DEFAULT_ROUTES = {'upstream': 'FROM /messages/* INTO $upstream'}
RESTART_POLICIES = ('never', 'on-failure', 'on-unhealthy', 'always')
# The module's imagePullPolicy, as the $edgeAgent desired properties take it (Microsoft's
# "Properties of the IoT Edge agent and IoT Edge hub module twins"): pull when the module is
# created (the agent's default) or never (the image must already be on the device).
IMAGE_PULL_POLICIES = ('on-create', 'never')
# Settings Kubernetes objects take and IoT Edge modules have no place for.
KUBERNETES_ONLY = ('node_selector', 'tolerations', 'image_pull_secrets', 'resources', 'security_context', 'backoff_limit')

# Registry credential and route names become keys of the module twin's desired properties,
# which may not contain '.', '$', '#' or spaces.
_TWIN_KEY = re.compile(r'^[^.$# ]+$')


def create_options_settings(options, module):
    """``createOptions`` as the agent reads it: JSON text in chunks of at most 512 characters,
    under ``createOptions``, then ``createOptions01`` ... ``createOptions07``."""
    text = json.dumps(options, separators=(',', ':'), sort_keys=True, ensure_ascii=False)
    chunks = [text[start:start + CHUNK] for start in range(0, len(text), CHUNK)] or ['{}']
    if len(chunks) > MAX_CHUNKS:
        raise ManifestError('module %s: createOptions is %d characters; IoT Edge takes at most %d (%d chunks of %d)'
                            % (module, len(text), CHUNK * MAX_CHUNKS, MAX_CHUNKS, CHUNK))
    settings = {'createOptions': chunks[0]}
    for number, chunk in enumerate(chunks[1:], 1):
        settings['createOptions%02d' % number] = chunk
    return settings


def join_create_options(settings):
    """The inverse of ``create_options_settings`` (for reading a manifest back)."""
    keys = ['createOptions'] + ['createOptions%02d' % number for number in range(1, MAX_CHUNKS)]
    return json.loads(''.join(settings[key] for key in keys if key in settings))


def _workload_create_options(workload, plan, gpu_runtime, given):
    """The module's Docker create options: the workload's own (``given``) merged with the plan's.

    User ``HostConfig.Binds`` are kept and the MPS pipe directory bind is added; a host setting
    the plan needs (IpcMode for MPS, PidMode for host_pid, Runtime for gpu_runtime) that the user
    set differently, Entrypoint / Cmd beside command / args, and Env entries that name the plan's
    variables are refused, naming both values.
    """
    who = 'workload %r' % (workload['name'],)
    settings = workload.get('settings') or {}
    if given is not None and not isinstance(given, dict):
        raise ManifestError('%s: create_options must be a dictionary of Docker create options, got %r' % (who, given))
    options = copy.deepcopy(given or {})
    for key, field in (('Entrypoint', 'command'), ('Cmd', 'args')):
        if workload[field]:
            if key in options and options[key] != list(workload[field]):
                raise ManifestError('%s: create_options %s %r conflicts with %s %r; give one of them'
                                    % (who, key, options[key], field, list(workload[field])))
            options[key] = list(workload[field])
    env = options.get('Env', [])
    if not isinstance(env, list) or not all(isinstance(item, str) for item in env):
        raise ManifestError('%s: create_options Env must be a list of NAME=value strings, got %r' % (who, env))
    for item in env:
        if item.split('=', 1)[0] in PLAN_VARIABLES:
            raise ManifestError('%s: create_options Env %s is set by the sharing plan and cannot be given'
                                % (who, item.split('=', 1)[0]))
    host = options.get('HostConfig', {})
    if not isinstance(host, dict):
        raise ManifestError('%s: create_options HostConfig must be a dictionary, got %r' % (who, host))
    needed = []
    if gpu_runtime:
        needed.append(('Runtime', gpu_runtime, 'gpu_runtime'))
    if workload['mps']:
        # MPS clients reach the control daemon through host IPC and its pipe directory.
        needed.append(('IpcMode', 'host', 'MPS (its clients reach the control daemon through host IPC)'))
    if settings.get('host_pid'):
        needed.append(('PidMode', 'host', 'host_pid'))
    for key, value, why in needed:
        if key in host and host[key] != value:
            raise ManifestError('%s: create_options HostConfig.%s %r conflicts with %r, which %s needs'
                                % (who, key, host[key], value, why))
        host[key] = value
    if workload['mps']:
        pipe = plan['mps_pipe_directory']
        binds = host.get('Binds', [])
        if not isinstance(binds, list) or not all(isinstance(item, str) for item in binds):
            raise ManifestError('%s: create_options HostConfig.Binds must be a list of host:container strings, got %r'
                                % (who, binds))
        for bind in binds:
            parts = bind.split(':')
            if len(parts) > 1 and parts[1].rstrip('/') == pipe and parts[0].rstrip('/') != pipe:
                raise ManifestError('%s: create_options HostConfig.Binds %r mounts something else on the MPS pipe '
                                    'directory %s, which MPS clients need bound from the host' % (who, bind, pipe))
        mps_bind = '%s:%s' % (pipe, pipe)
        host['Binds'] = binds + ([] if any(bind.split(':')[:2] == [pipe, pipe] for bind in binds) else [mps_bind])
    if host:
        options['HostConfig'] = host
    return options


def _check_settings(who, settings):
    for key in KUBERNETES_ONLY:
        if key in settings:
            raise ManifestError('%s: %s applies to Kubernetes objects only, not to IoT Edge modules' % (who, key))
    if settings.get('restart_policy', 'always') not in RESTART_POLICIES:
        raise ManifestError('%s: restart_policy %r must be one of %s'
                            % (who, settings['restart_policy'], ', '.join(RESTART_POLICIES)))
    if settings.get('image_pull_policy', 'on-create') not in IMAGE_PULL_POLICIES:
        raise ManifestError('%s: image_pull_policy %r must be on-create or never'
                            % (who, settings['image_pull_policy']))


def check_credentials(credentials):
    for name, entry in (credentials or {}).items():
        if not isinstance(name, str) or not _TWIN_KEY.match(name):
            raise ManifestError('registry_credentials: %r is not a valid credential name' % (name,))
        if not isinstance(entry, dict) or sorted(entry) != ['address', 'password', 'username']:
            raise ManifestError('registry_credentials.%s must have exactly address, username and password' % name)
        if not entry['address'] or re.search(r'\s', entry['address']):
            raise ManifestError('registry_credentials.%s.address %r is not a registry address' % (name, entry['address']))


def manifest(plan, registry_credentials=None, routes=None, store_and_forward_ttl=7200, restart_policy='always',
             module_version='1.0', edge_agent_image=EDGE_AGENT_IMAGE, edge_hub_image=EDGE_HUB_IMAGE,
             gpu_runtime=None, create_options=None, allow_empty=False):
    """The whole deployment manifest for a plan. ``create_options`` maps workload names to
    extra Docker create options merged with the plan's own (as a workload's ``create_options``).

    A manifest without modules removes every module from the device it is applied to, so a plan
    without workloads is refused unless ``allow_empty`` says that is meant.
    """
    if not plan['workloads'] and not allow_empty:
        raise ManifestError('workloads is empty: the manifest would have no modules, and applying it removes every '
                            'module from the device; set allow_empty: true if that is what you want')
    if restart_policy not in RESTART_POLICIES:
        raise ManifestError('restart_policy must be one of %s, got %r' % (', '.join(RESTART_POLICIES), restart_policy))
    # The agent reads timeToLiveSecs as a 32-bit signed number.
    store_and_forward_ttl = units.whole_number(store_and_forward_ttl, 'store_and_forward_ttl', 0, 2 ** 31 - 1)
    units.image_reference(edge_agent_image, 'edge_agent_image')
    units.image_reference(edge_hub_image, 'edge_hub_image')
    check_credentials(registry_credentials)
    routes = DEFAULT_ROUTES if routes is None else routes
    for name, route in routes.items():
        if not _TWIN_KEY.match(name) or not isinstance(route, str) or not route.strip() or '\n' in route:
            raise ManifestError('routes: %r: %r is not a valid route' % (name, route))
    unknown = sorted(set(create_options or {}) - set(w['name'] for w in plan['workloads']))
    if unknown:
        raise ManifestError('create_options names workloads that are not planned: %s' % ', '.join(unknown))
    modules = {}
    for workload in plan['workloads']:
        who = 'workload %r' % (workload['name'],)
        own = workload.get('settings') or {}
        _check_settings(who, own)
        given = own.get('create_options')
        if workload['name'] in (create_options or {}):
            if given is not None:
                raise ManifestError('%s: create_options is given both in the workload and in the module\'s '
                                    'create_options; give it once' % who)
            given = create_options[workload['name']]
        options = _workload_create_options(workload, plan, gpu_runtime, given)
        settings = {'image': workload['image']}
        settings.update(create_options_settings(options, workload['name']))
        module = {
            'version': module_version,
            'type': 'docker',
            'status': 'running',
            'restartPolicy': own.get('restart_policy', restart_policy),
        }
        if 'image_pull_policy' in own:
            module['imagePullPolicy'] = own['image_pull_policy']
        module['settings'] = settings
        module['env'] = dict((name, {'value': value}) for name, value in workload['env'].items())
        modules[workload['name']] = module
    runtime_settings = {'minDockerVersion': 'v1.25', 'loggingOptions': ''}
    if registry_credentials:
        runtime_settings['registryCredentials'] = dict(
            (name, {'username': entry['username'], 'password': entry['password'], 'address': entry['address']})
            for name, entry in sorted(registry_credentials.items()))
    hub_settings = {'image': edge_hub_image}
    hub_settings.update(create_options_settings(EDGE_HUB_CREATE_OPTIONS, 'edgeHub'))
    return {'modulesContent': {
        '$edgeAgent': {'properties.desired': {
            'schemaVersion': SCHEMA_VERSION,
            'runtime': {'type': 'docker', 'settings': runtime_settings},
            'systemModules': {
                'edgeAgent': {'type': 'docker', 'settings': {'image': edge_agent_image, 'createOptions': '{}'}},
                'edgeHub': {'type': 'docker', 'status': 'running', 'restartPolicy': 'always', 'settings': hub_settings},
            },
            'modules': modules,
        }},
        '$edgeHub': {'properties.desired': {
            'schemaVersion': SCHEMA_VERSION,
            'routes': dict(routes),
            'storeAndForwardConfiguration': {'timeToLiveSecs': store_and_forward_ttl},
        }},
    }}
