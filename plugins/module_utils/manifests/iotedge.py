# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Azure IoT Edge deployment manifests that carry a sharing plan, built as data.

Plain Python, no Ansible imports. One module per workload with its environment
(``NVIDIA_VISIBLE_DEVICES``, MPS variables) and ``createOptions`` serialised as JSON and
split into 512-character chunks, as the IoT Edge agent expects.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ManifestError

SCHEMA_VERSION = '1.1'
CHUNK = 512
MAX_CHUNKS = 8
EDGE_AGENT_IMAGE = 'mcr.microsoft.com/azureiotedge-agent:1.5'
EDGE_HUB_IMAGE = 'mcr.microsoft.com/azureiotedge-hub:1.5'
EDGE_HUB_CREATE_OPTIONS = {'HostConfig': {'PortBindings': {
    '5671/tcp': [{'HostPort': '5671'}], '8883/tcp': [{'HostPort': '8883'}], '443/tcp': [{'HostPort': '443'}]}}}
DEFAULT_ROUTES = {'upstream': 'FROM /messages/* INTO $upstream'}
RESTART_POLICIES = ('never', 'on-failure', 'on-unhealthy', 'always')

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


def _workload_create_options(workload, plan, gpu_runtime, extra):
    options = {}
    if workload['command']:
        options['Entrypoint'] = list(workload['command'])
    if workload['args']:
        options['Cmd'] = list(workload['args'])
    host = {}
    if gpu_runtime:
        host['Runtime'] = gpu_runtime
    if workload['mps']:
        # MPS clients reach the control daemon through host IPC and its pipe directory.
        host['IpcMode'] = 'host'
        host['Binds'] = ['%s:%s' % (plan['mps_pipe_directory'], plan['mps_pipe_directory'])]
    if host:
        options['HostConfig'] = host
    for key, value in (extra or {}).items():
        if key == 'HostConfig' and isinstance(value, dict):
            merged = dict(value)
            merged.update(options.get('HostConfig', {}))
            options['HostConfig'] = merged
        elif key not in options:
            options[key] = value
    return options


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
             gpu_runtime=None, create_options=None):
    """The whole deployment manifest for a plan. ``create_options`` maps workload names to
    extra Docker create options merged under the plan's own."""
    if restart_policy not in RESTART_POLICIES:
        raise ManifestError('restart_policy must be one of %s, got %r' % (', '.join(RESTART_POLICIES), restart_policy))
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
        options = _workload_create_options(workload, plan, gpu_runtime, (create_options or {}).get(workload['name']))
        settings = {'image': workload['image']}
        settings.update(create_options_settings(options, workload['name']))
        modules[workload['name']] = {
            'version': module_version,
            'type': 'docker',
            'status': 'running',
            'restartPolicy': restart_policy,
            'settings': settings,
            'env': dict((name, {'value': value}) for name, value in workload['env'].items()),
        }
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
