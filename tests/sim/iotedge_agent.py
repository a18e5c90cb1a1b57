# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What an Azure IoT Edge agent needs from a deployment manifest, checked with no schema file.

The tests run ``check_manifest`` on every IoT Edge manifest the collection writes, whether or
not the SchemaStore schema in ``../shared`` is at hand. The rules come from Microsoft's
documentation, not from this collection's code:

- "Properties of the IoT Edge agent and IoT Edge hub module twins" (module-edgeagent-edgehub):
  ``$edgeAgent``: ``schemaVersion`` "1.0" or "1.1"; ``runtime.type`` "docker";
  ``runtime.settings.minDockerVersion``; ``runtime.settings.registryCredentials.{id}`` with
  ``username``, ``password``, ``address``; ``systemModules.edgeAgent`` and ``.edgeHub`` of type
  "docker" with ``settings.image`` (edgeHub: ``status`` "running", ``restartPolicy`` "always");
  ``modules.{moduleId}``: ``version``, ``type`` "docker", ``status`` running|stopped,
  ``restartPolicy`` never|on-failure|on-unhealthy|always, optional ``imagePullPolicy``
  on-create|never, ``env`` as ``"<name>": {"value": "<value>"}``, ``settings.image``,
  ``settings.createOptions`` as stringified JSON. ``$edgeHub``: ``schemaVersion``,
  ``routes.{routeName}`` strings, ``storeAndForwardConfiguration.timeToLiveSecs``.
- "Deploy modules and establish routes" (module-composition): a route reads
  ``FROM <source> [WHERE <condition>] INTO <sink>``; module twins beyond the two runtime ones
  hold only ``properties.desired``.
- "Configure container create options" (how-to-use-create-options): create options are Docker
  create options (a JSON object), stringified into the manifest; a module's name is how other
  modules reach it over the network, and the agent names the module's container after it.
- IoT Hub module/device twins (iot-hub-devguide-module-twins): keys are at most 1 KB and hold no
  control characters, '.', '$' or space; objects nest at most 10 deep. "IoT Edge limits and
  restrictions": ``properties.desired`` of a twin is at most 32 KB.
- ``createOptions`` chunks: a twin string value was capped at 512 bytes, so a long
  ``createOptions`` is split into at most eight chunks ``createOptions``, ``createOptions01`` ...
  ``createOptions07`` of at most 512 characters each, which the agent joins in that order
  (Azure/iotedge pull request 396 "Extend createOptions by chunking the field"; Microsoft's IoT
  Edge tooling, microsoft/vscode-azure-iot-edge pull request 272, writes at most those eight).

Module and route names also refuse '#' (besides '.', '$' and whitespace), as SchemaStore's
manifest schema does for route and registry names; module names must moreover be valid Docker
container names ``[a-zA-Z0-9][a-zA-Z0-9_.-]*`` since the agent names the container after them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

SCHEMA_VERSIONS = ('1.0', '1.1')
STATUSES = ('running', 'stopped')
RESTART_POLICIES = ('never', 'on-failure', 'on-unhealthy', 'always')
IMAGE_PULL_POLICIES = ('on-create', 'never')
CHUNK_CHARACTERS = 512
CHUNK_NAMES = ('createOptions',) + tuple('createOptions%02d' % number for number in range(1, 8))
MODULE_KEYS = ('version', 'type', 'status', 'restartPolicy', 'imagePullPolicy', 'env', 'settings', 'startupOrder')
SYSTEM_MODULES = ('edgeAgent', 'edgeHub')
MAX_TWIN_KEY_BYTES = 1024
MAX_TWIN_DEPTH = 10
MAX_DESIRED_BYTES = 32 * 1024
MAX_STARTUP_ORDER = 4294967295

_CONTROL = re.compile(u'[\u0000-\u001f\u007f-\u009f]')
_DOCKER_NAME = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.-]*$')
_ROUTE = re.compile(r'^FROM\s+\S.*\sINTO\s+\S', re.IGNORECASE)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value):
    return isinstance(value, str) and value != ''


def _name_problem(name, forbid_hash=True):
    """Why ``name`` cannot be a twin key (or module/route name), or None."""
    if not isinstance(name, str) or not name:
        return 'must be a non-empty string'
    if len(name.encode('utf-8')) > MAX_TWIN_KEY_BYTES:
        return 'is longer than %d bytes' % MAX_TWIN_KEY_BYTES
    if _CONTROL.search(name):
        return 'holds a control character'
    bad = '.$' + ('#' if forbid_hash else '')
    if any(char in name for char in bad) or re.search(r'\s', name):
        return "holds one of %s or whitespace" % ', '.join(repr(char) for char in bad)
    return None


class _Problems(object):
    def __init__(self):
        self.found = []

    def add(self, where, message):
        self.found.append('%s: %s' % (where, message))

    def expect(self, condition, where, message):
        if not condition:
            self.add(where, message)
        return condition


def _check_twin_keys(value, where, problems, depth=0):
    """Keys and nesting under ``properties.desired`` (which itself is depth 0)."""
    if not isinstance(value, dict):
        return
    problems.expect(depth <= MAX_TWIN_DEPTH, where, 'nests deeper than %d objects' % MAX_TWIN_DEPTH)
    for key, item in value.items():
        problem = _name_problem(key, forbid_hash=False)
        if problem:
            problems.add(where, 'twin key %r %s' % (key, problem))
        _check_twin_keys(item, '%s.%s' % (where, key), problems, depth + 1)


def create_options(settings, where='settings', problems=None):
    """The Docker create options in a module's ``settings``, its chunks joined in the agent's
    order; None if there are none. Problems go to ``problems`` (or raise AssertionError)."""
    own = problems is None
    problems = problems or _Problems()
    chunks = [key for key in settings if key.startswith('createOptions')]
    for key in sorted(set(chunks) - set(CHUNK_NAMES)):
        problems.add(where, '%r is not a createOptions chunk name (createOptions, createOptions01 ... createOptions07)' % key)
    present = [key for key in CHUNK_NAMES if key in settings]
    if present != list(CHUNK_NAMES[:len(present)]):
        problems.add(where, 'createOptions chunks %s leave a gap; the agent reads %s in order'
                     % (', '.join(present), ', '.join(CHUNK_NAMES[:len(present) + 1])))
    options = None
    if present and all(isinstance(settings[key], str) for key in present):
        for key in present:
            problems.expect(len(settings[key]) <= CHUNK_CHARACTERS, '%s.%s' % (where, key),
                            'is %d characters, more than %d' % (len(settings[key]), CHUNK_CHARACTERS))
        try:
            options = json.loads(''.join(settings[key] for key in present))
        except ValueError as error:
            problems.add(where, 'createOptions chunks do not join to JSON: %s' % error)
        else:
            problems.expect(isinstance(options, dict), where, 'createOptions is not a JSON object (Docker create options)')
    elif present:
        problems.add(where, 'every createOptions chunk must be a string (stringified JSON)')
    if own and problems.found:
        raise AssertionError('\n'.join(problems.found))
    return options


def _check_settings(settings, where, problems):
    if not problems.expect(isinstance(settings, dict), where, 'must be an object'):
        return
    image = settings.get('image')
    problems.expect(_is_text(image) and not re.search(r'\s', image), where + '.image',
                    'must be a container image reference, got %r' % (image,))
    for key in settings:
        if key != 'image' and not key.startswith('createOptions'):
            problems.add(where, 'unexpected setting %r' % key)
    create_options(settings, where, problems)


def _check_env(env, where, problems):
    if not problems.expect(isinstance(env, dict), where, 'must be an object of {"value": ...}'):
        return
    for name, entry in env.items():
        problem = _name_problem(name, forbid_hash=False)
        if problem is None and '=' in name:
            problem = "holds '='"
        if problem:
            problems.add(where, 'variable %r %s' % (name, problem))
        if not isinstance(entry, dict) or list(entry) != ['value']:
            problems.add('%s.%s' % (where, name), 'must be {"value": ...}, got %r' % (entry,))
        elif entry['value'] is None or not isinstance(entry['value'], (str, int, float)):
            problems.add('%s.%s' % (where, name), 'value must be a string, number or boolean, got %r' % (entry['value'],))


def _check_module(name, module, where, problems):
    problem = _name_problem(name)
    if problem is None and not _DOCKER_NAME.match(name):
        problem = 'is not a Docker container name'
    if problem is None and name in SYSTEM_MODULES:
        problem = 'is the name of a runtime module'
    if problem:
        problems.add(where, 'module name %r %s' % (name, problem))
    if not problems.expect(isinstance(module, dict), where, 'must be an object'):
        return
    for key in module:
        problems.expect(key in MODULE_KEYS, where, 'unexpected property %r' % key)
    problems.expect(_is_text(module.get('version')), where + '.version', 'is required, a string')
    problems.expect(module.get('type') == 'docker', where + '.type', 'must be "docker", got %r' % (module.get('type'),))
    problems.expect(module.get('status') in STATUSES, where + '.status',
                    'must be one of %s, got %r' % (', '.join(STATUSES), module.get('status')))
    problems.expect(module.get('restartPolicy') in RESTART_POLICIES, where + '.restartPolicy',
                    'must be one of %s, got %r' % (', '.join(RESTART_POLICIES), module.get('restartPolicy')))
    if 'imagePullPolicy' in module:
        problems.expect(module['imagePullPolicy'] in IMAGE_PULL_POLICIES, where + '.imagePullPolicy',
                        'must be one of %s' % ', '.join(IMAGE_PULL_POLICIES))
    if 'startupOrder' in module:
        problems.expect(_is_int(module['startupOrder']) and 0 <= module['startupOrder'] <= MAX_STARTUP_ORDER,
                        where + '.startupOrder', 'must be an integer from 0 to %d' % MAX_STARTUP_ORDER)
    if 'env' in module:
        _check_env(module['env'], where + '.env', problems)
    _check_settings(module.get('settings'), where + '.settings', problems)


def _check_runtime(runtime, where, problems):
    if not problems.expect(isinstance(runtime, dict), where, 'is required, an object'):
        return
    problems.expect(runtime.get('type') == 'docker', where + '.type', 'must be "docker", got %r' % (runtime.get('type'),))
    settings = runtime.get('settings')
    if not problems.expect(isinstance(settings, dict), where + '.settings', 'is required, an object'):
        return
    problems.expect(_is_text(settings.get('minDockerVersion')), where + '.settings.minDockerVersion', 'is required, a string')
    if 'loggingOptions' in settings:
        problems.expect(isinstance(settings['loggingOptions'], str), where + '.settings.loggingOptions',
                        'must be a string (stringified JSON)')
    credentials = settings.get('registryCredentials', {})
    if not problems.expect(isinstance(credentials, dict), where + '.settings.registryCredentials', 'must be an object'):
        return
    for name, entry in credentials.items():
        at = '%s.settings.registryCredentials.%s' % (where, name)
        problem = _name_problem(name)
        if problem:
            problems.add(at, 'credential name %s' % problem)
        if not isinstance(entry, dict) or sorted(entry) != ['address', 'password', 'username']:
            problems.add(at, 'must have exactly address, username and password')
            continue
        for key in ('username', 'password'):
            problems.expect(isinstance(entry[key], str), '%s.%s' % (at, key), 'must be a string')
        problems.expect(_is_text(entry['address']) and not re.search(r'\s', entry['address']), at + '.address',
                        'must be a registry address')


def _check_edge_agent(desired, problems):
    where = '$edgeAgent.properties.desired'
    problems.expect(desired.get('schemaVersion') in SCHEMA_VERSIONS, where + '.schemaVersion',
                    'must be one of %s, got %r' % (', '.join(SCHEMA_VERSIONS), desired.get('schemaVersion')))
    _check_runtime(desired.get('runtime'), where + '.runtime', problems)
    system = desired.get('systemModules')
    if problems.expect(isinstance(system, dict), where + '.systemModules', 'is required, an object'):
        for name in SYSTEM_MODULES:
            module = system.get(name)
            at = '%s.systemModules.%s' % (where, name)
            if not problems.expect(isinstance(module, dict), at, 'is required, an object'):
                continue
            problems.expect(module.get('type') == 'docker', at + '.type', 'must be "docker"')
            _check_settings(module.get('settings'), at + '.settings', problems)
            if name == 'edgeHub':
                problems.expect(module.get('status') == 'running', at + '.status', 'must be "running"')
                problems.expect(module.get('restartPolicy') == 'always', at + '.restartPolicy', 'must be "always"')
            if 'env' in module:
                _check_env(module['env'], at + '.env', problems)
        for name in system:
            problems.expect(name in SYSTEM_MODULES, where + '.systemModules', 'unexpected system module %r' % name)
    modules = desired.get('modules')
    if problems.expect(isinstance(modules, dict), where + '.modules', 'is required, an object'):
        for name, module in modules.items():
            _check_module(name, module, '%s.modules.%s' % (where, name), problems)


def _check_edge_hub(desired, problems):
    where = '$edgeHub.properties.desired'
    problems.expect(desired.get('schemaVersion') in SCHEMA_VERSIONS, where + '.schemaVersion',
                    'must be one of %s, got %r' % (', '.join(SCHEMA_VERSIONS), desired.get('schemaVersion')))
    routes = desired.get('routes')
    if problems.expect(isinstance(routes, dict), where + '.routes', 'is required, an object (it may be empty)'):
        for name, route in routes.items():
            problem = _name_problem(name)
            if problem:
                problems.add(where + '.routes', 'route name %r %s' % (name, problem))
            problems.expect(isinstance(route, str) and '\n' not in route and _ROUTE.match(route) is not None,
                            '%s.routes.%s' % (where, name), 'must be a string "FROM <source> [WHERE ...] INTO <sink>", got %r'
                            % (route,))
    store = desired.get('storeAndForwardConfiguration')
    if problems.expect(isinstance(store, dict), where + '.storeAndForwardConfiguration', 'is required, an object'):
        ttl = store.get('timeToLiveSecs')
        problems.expect(_is_int(ttl) and ttl >= 0, where + '.storeAndForwardConfiguration.timeToLiveSecs',
                        'must be a non-negative integer, got %r' % (ttl,))


def problems_of(manifest):
    """Every way ``manifest`` falls short of what an IoT Edge agent needs, as text lines."""
    problems = _Problems()
    if not problems.expect(isinstance(manifest, dict) and isinstance(manifest.get('modulesContent'), dict),
                           'manifest', 'must be an object with modulesContent'):
        return problems.found
    content = manifest['modulesContent']
    for twin in content:
        if twin in ('$edgeAgent', '$edgeHub'):
            continue
        problem = _name_problem(twin)
        if problem:
            problems.add('modulesContent', 'module twin %r %s' % (twin, problem))
        twin_value = content[twin]
        problems.expect(isinstance(twin_value, dict) and list(twin_value) == ['properties.desired']
                        and isinstance(twin_value['properties.desired'], dict),
                        'modulesContent.' + twin, 'must hold only "properties.desired", an object')
    for twin, check in (('$edgeAgent', _check_edge_agent), ('$edgeHub', _check_edge_hub)):
        twin_value = content.get(twin)
        if not problems.expect(isinstance(twin_value, dict) and isinstance(twin_value.get('properties.desired'), dict),
                               'modulesContent.' + twin, 'is required, with "properties.desired"'):
            continue
        desired = twin_value['properties.desired']
        check(desired, problems)
        _check_twin_keys(desired, twin + '.properties.desired', problems)
        size = len(json.dumps(desired, separators=(',', ':'), ensure_ascii=False).encode('utf-8'))
        problems.expect(size <= MAX_DESIRED_BYTES, twin + '.properties.desired',
                        'is %d bytes, more than a twin takes (%d)' % (size, MAX_DESIRED_BYTES))
    return problems.found


def check_manifest(manifest):
    """Raise AssertionError naming every problem ``problems_of`` finds; return the manifest."""
    found = problems_of(manifest)
    if found:
        raise AssertionError('IoT Edge manifest is not what the agent needs:\n  ' + '\n  '.join(found))
    return manifest
