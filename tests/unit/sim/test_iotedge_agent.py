# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The IoT Edge manifest checker (tests/sim/iotedge_agent.py) accepts a documented manifest and
refuses each thing an agent cannot take; where ../shared holds SchemaStore's schema, the schema
agrees on every case it covers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import jsonschema
import pytest

LONG_OPTIONS = json.dumps({'Labels': dict(('label%03d' % n, 'x' * 20) for n in range(60))}, separators=(',', ':'))


def good():
    """A manifest shaped like the example in Microsoft's "Deploy modules and establish routes"."""
    options = [LONG_OPTIONS[start:start + 512] for start in range(0, len(LONG_OPTIONS), 512)]
    chunks = dict([('createOptions', options[0])] + [('createOptions%02d' % n, chunk) for n, chunk in enumerate(options[1:], 1)])
    return {'modulesContent': {
        '$edgeAgent': {'properties.desired': {
            'schemaVersion': '1.1',
            'runtime': {'type': 'docker', 'settings': {
                'minDockerVersion': 'v1.25', 'loggingOptions': '',
                'registryCredentials': {'myacr': {'username': 'u', 'password': 'p', 'address': 'myacr.azurecr.io'}}}},
            'systemModules': {
                'edgeAgent': {'type': 'docker', 'settings': {'image': 'mcr.microsoft.com/azureiotedge-agent:1.5', 'createOptions': '{}'}},
                'edgeHub': {'type': 'docker', 'status': 'running', 'restartPolicy': 'always', 'settings': {
                    'image': 'mcr.microsoft.com/azureiotedge-hub:1.5',
                    'createOptions': '{"HostConfig":{"PortBindings":{"443/tcp":[{"HostPort":"443"}]}}}'}}},
            'modules': {
                'tempSensor': {'version': '1.0', 'type': 'docker', 'status': 'running', 'restartPolicy': 'always',
                               'env': {'NVIDIA_VISIBLE_DEVICES': {'value': '0'}, 'RETRIES': {'value': 3}},
                               'settings': {'image': 'mcr.microsoft.com/azureiotedge-simulated-temperature-sensor:1.0',
                                            'createOptions': '{}'}},
                'filtermodule': dict({'version': '1.0', 'type': 'docker', 'status': 'stopped', 'restartPolicy': 'on-failure',
                                      'imagePullPolicy': 'on-create', 'startupOrder': 2},
                                     settings=dict(chunks, image='myacr.azurecr.io/filtermodule:latest')),
            }}},
        '$edgeHub': {'properties.desired': {
            'schemaVersion': '1.1',
            'routes': {'sensorToFilter': 'FROM /messages/modules/tempSensor/outputs/temperatureOutput '
                                         'INTO BrokeredEndpoint("/modules/filtermodule/inputs/input1")',
                       'filterToIoTHub': 'FROM /messages/modules/filtermodule/outputs/output1 WHERE $body.x > 1 INTO $upstream'},
            'storeAndForwardConfiguration': {'timeToLiveSecs': 7200}}},
        'filtermodule': {'properties.desired': {'threshold': 25}},
    }}


def agent(manifest):
    return manifest['modulesContent']['$edgeAgent']['properties.desired']


def module(manifest, name='tempSensor'):
    return agent(manifest)['modules'][name]


def hub(manifest):
    return manifest['modulesContent']['$edgeHub']['properties.desired']


def set_settings(manifest, **settings):
    module(manifest)['settings'] = dict({'image': 'registry.local/a:1'}, **settings)


def rename_module(manifest, name):
    agent(manifest)['modules'][name] = agent(manifest)['modules'].pop('tempSensor')


# (what it breaks, words in the problem, whether SchemaStore's schema refuses it too)
BREAKS = {
    'no_edge_hub': (lambda m: m['modulesContent'].pop('$edgeHub'), 'modulesContent.$edgeHub', True),
    'no_agent_desired': (lambda m: m['modulesContent']['$edgeAgent'].pop('properties.desired'), '$edgeAgent', True),
    'schema_version': (lambda m: agent(m).update(schemaVersion='2.0'), 'schemaVersion', False),
    'no_schema_version': (lambda m: hub(m).pop('schemaVersion'), 'schemaVersion', True),
    'runtime_type': (lambda m: agent(m)['runtime'].update(type='moby'), 'runtime.type', True),
    'no_runtime_settings': (lambda m: agent(m)['runtime'].pop('settings'), 'runtime.settings', True),
    'no_min_docker_version': (lambda m: agent(m)['runtime']['settings'].pop('minDockerVersion'), 'minDockerVersion', False),
    'credential_address': (lambda m: agent(m)['runtime']['settings']['registryCredentials']['myacr'].update(address='a b'),
                           'address', True),
    'no_edge_agent_image': (lambda m: agent(m)['systemModules']['edgeAgent']['settings'].pop('image'), 'edgeAgent.settings.image',
                            True),
    'no_edge_hub_module': (lambda m: agent(m)['systemModules'].pop('edgeHub'), 'systemModules.edgeHub', True),
    'edge_hub_stopped': (lambda m: agent(m)['systemModules']['edgeHub'].update(status='stopped'), 'edgeHub.status', False),
    'no_version': (lambda m: module(m).pop('version'), 'tempSensor.version', False),
    'module_type': (lambda m: module(m).update(type='podman'), 'tempSensor.type', True),
    'status': (lambda m: module(m).update(status='paused'), 'tempSensor.status', True),
    'restart_policy': (lambda m: module(m).update(restartPolicy='sometimes'), 'restartPolicy', True),
    'no_restart_policy': (lambda m: module(m).pop('restartPolicy'), 'restartPolicy', True),
    'image_pull_policy': (lambda m: module(m).update(imagePullPolicy='always'), 'imagePullPolicy', True),
    'unknown_module_property': (lambda m: module(m).update(restart='always'), "unexpected property 'restart'", True),
    'no_image': (lambda m: module(m)['settings'].pop('image'), 'tempSensor.settings.image', True),
    'image_with_space': (lambda m: module(m)['settings'].update(image='a b'), 'tempSensor.settings.image', False),
    'env_plain_value': (lambda m: module(m)['env'].update(A='x'), 'tempSensor.env.A', True),
    'env_list_value': (lambda m: module(m)['env'].update(A={'value': ['x']}), 'tempSensor.env.A', True),
    'env_name_with_dot': (lambda m: module(m)['env'].update({'A.B': {'value': 'x'}}), "variable 'A.B'", True),
    'env_name_with_space': (lambda m: module(m)['env'].update({'A B': {'value': 'x'}}), "variable 'A B'", True),
    'module_name_dot': (lambda m: rename_module(m, 'temp.sensor'), "'temp.sensor'", True),
    'module_name_dollar': (lambda m: rename_module(m, '$temp'), "'$temp'", True),
    'module_name_hash': (lambda m: rename_module(m, 'temp#1'), "'temp#1'", True),
    'module_name_space': (lambda m: rename_module(m, 'temp sensor'), "'temp sensor'", True),
    'module_name_runtime': (lambda m: rename_module(m, 'edgeHub'), 'name of a runtime module', False),
    'chunk_too_long': (lambda m: set_settings(m, createOptions='{"Labels":{"a":"%s"}}' % ('x' * 600)), 'more than 512', False),
    'chunk_gap': (lambda m: set_settings(m, createOptions='{"Labels":', createOptions02='{}}'), 'leave a gap', False),
    'chunk_without_first': (lambda m: set_settings(m, createOptions01='{}'), 'leave a gap', False),
    'chunk_name': (lambda m: set_settings(m, createOptions='{}', createOptions08='x'), "'createOptions08'", False),
    'chunk_name_unpadded': (lambda m: set_settings(m, createOptions='{', createOptions1='}'), "'createOptions1'", False),
    'chunks_not_json': (lambda m: set_settings(m, createOptions='{"Cmd":', createOptions01='["a"'), 'do not join to JSON', False),
    'options_not_object': (lambda m: set_settings(m, createOptions='["a"]'), 'not a JSON object', False),
    'options_not_string': (lambda m: set_settings(m, createOptions={'Cmd': ['a']}), 'must be a string', True),
    'unknown_setting': (lambda m: set_settings(m, volumes='x'), "unexpected setting 'volumes'", True),
    'route_object_less': (lambda m: hub(m)['routes'].update(r=5), 'routes.r', True),
    'route_two_lines': (lambda m: hub(m)['routes'].update(r='FROM /* INTO $upstream\nFROM /x INTO $upstream'), 'routes.r', True),
    'route_no_into': (lambda m: hub(m)['routes'].update(r='FROM /*'), 'routes.r', False),
    'route_name_dollar': (lambda m: hub(m)['routes'].update({'$up': 'FROM /* INTO $upstream'}), "route name '$up'", True),
    'no_routes': (lambda m: hub(m).pop('routes'), 'routes', True),
    'ttl_negative': (lambda m: hub(m)['storeAndForwardConfiguration'].update(timeToLiveSecs=-1), 'timeToLiveSecs', False),
    'module_twin_extra': (lambda m: m['modulesContent']['filtermodule'].update(tags={}), 'modulesContent.filtermodule', True),
    'desired_too_big': (lambda m: module(m)['env'].update(('V%03d' % n, {'value': 'x' * 400}) for n in range(100)),
                        'more than a twin takes', False),
    'too_deep': (lambda m: agent(m)['runtime']['settings']['registryCredentials']['myacr'].update(
        nested={'a': {'b': {'c': {'d': {'e': {'f': {'g': 'h'}}}}}}}), 'nests deeper than 10', True),
}


def test_a_documented_manifest_passes(iotedge_agent):
    assert iotedge_agent.problems_of(good()) == []
    iotedge_agent.check_manifest(good())


@pytest.mark.parametrize('case', sorted(BREAKS))
def test_each_thing_an_agent_cannot_take_is_named(iotedge_agent, case):
    manifest, (breaks, words, _schema_refuses) = good(), BREAKS[case]
    breaks(manifest)
    with pytest.raises(AssertionError) as info:
        iotedge_agent.check_manifest(manifest)
    assert words in str(info.value)


def test_create_options_join_in_the_agents_order(iotedge_agent):
    settings = module(good(), 'filtermodule')['settings']
    assert len([key for key in settings if key.startswith('createOptions')]) > 2
    assert iotedge_agent.create_options(dict(reversed(list(settings.items())))) == json.loads(LONG_OPTIONS)


def test_the_reference_schema_agrees(iotedge_reference_schema):
    jsonschema.validate(good(), iotedge_reference_schema)
    for case, (breaks, _words, schema_refuses) in sorted(BREAKS.items()):
        if schema_refuses:
            manifest = good()
            breaks(manifest)
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(manifest, iotedge_reference_schema)
                pytest.fail('the reference schema takes %s' % case)
