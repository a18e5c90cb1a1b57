# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The iotedge_deployment module against the IoT Hub stand-in, in-process (HTTPS, real SAS check)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import importlib.util
import json
import os

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import iothub
from ansible_collections.edge_gpu.sharing.plugins.modules import iotedge_deployment

STANDIN = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'integration', 'iothub_standin.py')
KEY = base64.b64encode(b'unit-test-key-' * 2 + b'1234').decode('ascii')
PASSWORD = 'reg "pass" \\ wörd'


def load_standin():
    spec = importlib.util.spec_from_file_location('unit_iothub_standin', STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IotHubStandin = load_standin().IotHubStandin


def manifest(image='acr.example/detector:1', password='VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'):
    return {'modulesContent': {
        '$edgeAgent': {'properties.desired': {
            'schemaVersion': '1.1',
            'runtime': {'type': 'docker', 'settings': {'minDockerVersion': 'v1.25', 'registryCredentials': {
                'acr': {'address': 'registry.example', 'username': 'puller', 'password': password}}}},
            'systemModules': {'edgeAgent': {'type': 'docker', 'settings': {'image': 'mcr.microsoft.com/azureiotedge-agent:1.5'}}},
            'modules': {'detector': {'type': 'docker', 'status': 'running', 'restartPolicy': 'always', 'version': '1.0',
                                     'settings': {'image': image, 'createOptions': '{}'}}}}},
        '$edgeHub': {'properties.desired': {'schemaVersion': '1.1', 'routes': {'up': 'FROM /messages/* INTO $upstream'},
                                            'storeAndForwardConfiguration': {'timeToLiveSecs': 7200}}},
        'detector': {'properties.desired': {'threshold': 0.5}},
    }}


CREDENTIALS = {'acr': {'address': 'registry.example', 'username': 'puller', 'password': PASSWORD}}


@pytest.fixture(scope='module')
def hub():
    with IotHubStandin(key_name='iothubowner', key=KEY) as standin:
        yield standin


@pytest.fixture
def fresh(hub, monkeypatch):
    """The shared stand-in, emptied, with device edge-01; waits between tries are recorded, not slept."""
    with hub.lock:
        hub.requests[:] = []
        hub.twins.clear()
        hub.configurations.clear()
        hub._faults[:] = []
        hub._stalls[:] = []
    hub.add_device('edge-01')
    slept = []
    monkeypatch.setattr(iothub, 'pause', slept.append)
    monkeypatch.delenv('IOTHUB_CONNECTION_STRING', raising=False)
    hub.slept = slept
    return hub


def device_args(standin, **more):
    args = {'mode': 'device', 'device_id': 'edge-01', 'connection_string': standin.connection_string,
            'ca_path': standin.ca_file, 'manifest': manifest(), 'registry_credentials': CREDENTIALS}
    args.update(more)
    return args


def layered_args(standin, **more):
    args = {'mode': 'layered', 'deployment_id': 'gpu-t4', 'target_condition': "tags.gpu='t4'", 'priority': 10,
            'labels': {'owner': 'edge-gpu'}, 'connection_string': standin.connection_string, 'ca_path': standin.ca_file,
            'manifest': manifest(), 'registry_credentials': CREDENTIALS}
    args.update(more)
    return args


def run(run_module, args, check_mode=False, diff=False):
    args = dict(args)
    if diff:
        args['_ansible_diff'] = True
    return run_module(iotedge_deployment, args, check_mode=check_mode)


def writes(hub):
    return [(item['method'], item['path']) for item in hub.writes()]


# -- device mode --------------------------------------------------------------------------------

def test_device_apply_then_no_change(fresh, run_module):
    failed, result = run(run_module, device_args(fresh))
    assert not failed and result['changed'] and result['modules_changed'] == ['$edgeAgent', '$edgeHub', 'detector']
    assert writes(fresh) == [('POST', '/devices/edge-01/applyConfigurationContent')]
    agent = fresh.module_twin('edge-01', '$edgeAgent')
    assert agent['runtime']['settings']['registryCredentials']['acr']['password'] == PASSWORD
    assert agent['modules']['detector']['settings']['image'] == 'acr.example/detector:1'
    assert fresh.module_twin('edge-01', 'detector') == {'threshold': 0.5}
    failed, result = run(run_module, device_args(fresh))
    assert not failed and not result['changed'] and result['modules_changed'] == []
    assert len(fresh.writes()) == 1


def test_device_check_mode_reports_and_writes_nothing(fresh, run_module):
    failed, result = run(run_module, device_args(fresh), check_mode=True, diff=True)
    assert not failed and result['changed']
    assert fresh.writes() == [] and fresh.module_twin('edge-01', 'detector') is None
    after = json.loads(result['diff']['after'])
    assert after['$edgeAgent']['properties.desired']['runtime']['settings']['registryCredentials']['acr']['password'] == '********'
    assert 'detector' not in json.loads(result['diff']['before'])


def test_device_diff_shows_only_what_the_twin_held(fresh, run_module):
    run(run_module, device_args(fresh))
    failed, result = run(run_module, device_args(fresh, manifest=manifest(image='acr.example/detector:2')), diff=True)
    assert not failed and result['modules_changed'] == ['$edgeAgent']
    before, after = json.loads(result['diff']['before']), json.loads(result['diff']['after'])
    path = ('$edgeAgent', 'properties.desired', 'modules', 'detector', 'settings', 'image')

    def pick(data):
        for key in path:
            data = data[key]
        return data
    assert (pick(before), pick(after)) == ('acr.example/detector:1', 'acr.example/detector:2')
    assert '$metadata' not in result['diff']['before'] and PASSWORD not in json.dumps(result)


def test_connection_string_from_the_environment(fresh, run_module, monkeypatch):
    monkeypatch.setenv('IOTHUB_CONNECTION_STRING', fresh.connection_string)
    args = device_args(fresh)
    del args['connection_string']
    failed, result = run(run_module, args)
    assert not failed and result['changed']


def test_sas_token_with_hub(fresh, run_module):
    token = iothub.sas_token(fresh.host, KEY, 'iothubowner', iothub.now() + 600)
    args = device_args(fresh, sas_token=token, hub=fresh.host)
    del args['connection_string']
    failed, result = run(run_module, args)
    assert not failed and result['changed']
    assert token not in json.dumps(result)


def test_src_file(fresh, run_module, tmp_path):
    path = tmp_path / 'deployment.json'
    path.write_text(json.dumps(manifest()))
    args = device_args(fresh, src=str(path))
    del args['manifest']
    failed, result = run(run_module, args)
    assert not failed and result['changed']


def test_wrong_key_is_a_clear_401(fresh, run_module):
    wrong = base64.b64encode(b'w' * 32).decode('ascii')
    failed, result = run(run_module, device_args(fresh, connection_string=fresh.connection_string.replace(KEY, wrong)))
    assert failed and result['error_kind'] == 'iothub'
    assert fresh.host in result['msg'] and "key name 'iothubowner'" in result['msg'] and 'HTTP 401' in result['msg']
    assert "device 'edge-01'" in result['msg']
    assert wrong not in json.dumps(result) and KEY not in json.dumps(result)
    assert not any(sig in json.dumps(result) for sig in fresh.signatures_seen)


def test_unknown_key_name(fresh, run_module):
    failed, result = run(run_module, device_args(
        fresh, connection_string=fresh.connection_string.replace('iothubowner', 'registryRead')))
    assert failed and "key name 'registryRead'" in result['msg'] and 'Unknown shared access policy' in result['msg']


def test_unknown_device(fresh, run_module):
    failed, result = run(run_module, device_args(fresh, device_id='edge-09'))
    assert failed and result['error_kind'] == 'iothub'
    assert "device 'edge-09'" in result['msg'] and 'HTTP 404' in result['msg'] and 'DeviceNotFound' in result['msg']
    assert fresh.writes() == []


def test_throttled_then_ok(fresh, run_module):
    fresh.fail_next(429, retry_after=2)
    failed, result = run(run_module, device_args(fresh))
    assert not failed and result['changed'] and fresh.slept == [2.0]
    assert [item['status'] for item in fresh.requests][:2] == [429, 200]


def test_server_errors_exhaust_the_retries_and_change_nothing(fresh, run_module):
    run(run_module, device_args(fresh))
    fresh.fail_next(500, count=3)
    failed, result = run(run_module, device_args(fresh, manifest=manifest(image='acr.example/detector:2'), retries=2))
    assert failed and 'HTTP 500' in result['msg'] and 'after 3 tries' in result['msg'] and 'ServerError' in result['msg']
    assert fresh.slept == [1.0, 2.0]
    assert fresh.module_twin('edge-01', '$edgeAgent')['modules']['detector']['settings']['image'] == 'acr.example/detector:1'


def test_a_hub_that_does_not_answer_in_time(fresh, run_module):
    fresh.stall_next(3)
    failed, result = run(run_module, device_args(fresh, timeout=1, retries=0))
    assert failed and result['error_kind'] == 'iothub' and 'no answer within 1 seconds' in result['msg']
    assert fresh.host in result['msg']


def test_untrusted_certificate_is_not_retried(fresh, run_module):
    args = device_args(fresh)
    del args['ca_path']
    failed, result = run(run_module, args)
    assert failed and 'certificate' in result['msg'] and fresh.slept == [] and fresh.requests == []


# -- bad input: refused before any request ------------------------------------------------------

def masked_manifest():
    return manifest()


BAD = [
    ('device_absent', dict(state='absent'), 'state: absent is not supported in mode: device'),
    ('no_credentials', dict(connection_string=None), 'connection_string is required'),
    ('key_missing', dict(connection_string='HostName=h.example;SharedAccessKeyName=o'), 'no SharedAccessKey'),
    ('bad_device_id', dict(device_id='edge 01'), "device_id 'edge 01'"),
    ('deployment_id_in_device_mode', dict(deployment_id='x'), 'deployment_id applies to mode: layered'),
    ('masked_credentials', dict(registry_credentials=None), "registry credential 'acr' has its password masked"),
    ('bad_credentials', dict(registry_credentials={'acr': {'address': 'registry.example'}}), 'registry_credentials.acr'),
    ('bad_manifest', dict(manifest={'$edgeAgent': {}}), 'modulesContent'),
    ('no_manifest', dict(manifest=None), 'needs manifest or src'),
    ('manifest_and_src', dict(src='/tmp/x.json'), 'mutually exclusive'),
    ('src_missing', dict(manifest=None, src='/nonexistent/x.json'), 'src /nonexistent/x.json cannot be read'),
    ('timeout', dict(timeout=0), 'timeout must be'),
    ('retries', dict(retries=99), 'retries must be'),
    ('expired_token', dict(connection_string=None, hub='h.example',
                           sas_token='SharedAccessSignature sr=h.example&sig=abc&se=1000&skn=o'), 'expired'),
    ('layered_no_condition', dict(mode='layered', device_id=None, deployment_id='gpu'), 'target_condition is required'),
    ('layered_bad_id', dict(mode='layered', device_id=None, deployment_id='GPU', target_condition='x'), "deployment_id 'GPU'"),
    ('layered_priority', dict(mode='layered', device_id=None, deployment_id='gpu', target_condition='x', priority=-1),
     'priority must be'),
    ('layered_labels', dict(mode='layered', device_id=None, deployment_id='gpu', target_condition='x', labels={'$a': 'b'}),
     'labels'),
    ('layered_device_id', dict(mode='layered', deployment_id='gpu', target_condition='x'), 'device_id applies to mode: device'),
    ('layered_no_id', dict(mode='layered', device_id=None, target_condition='x'), 'deployment_id'),
]


@pytest.mark.parametrize('name, change, message', BAD, ids=[case[0] for case in BAD])
def test_bad_input_is_refused_before_any_request(fresh, run_module, name, change, message):
    args = device_args(fresh)
    for key, value in change.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    failed, result = run(run_module, args)
    assert failed, name
    assert message in result['msg']
    assert fresh.requests == []
    assert KEY not in json.dumps(result) and PASSWORD not in json.dumps(result)


# -- layered mode -------------------------------------------------------------------------------

def test_layered_create_same_update_new_version_absent(fresh, run_module):
    failed, created = run(run_module, layered_args(fresh))
    assert not failed and created['changed'] and created['created'] == created['deployment_id']
    first = created['deployment_id']
    assert first.startswith('gpu-t4-') and list(fresh.configurations) == [first]
    held = dict(fresh.configurations[first])
    assert (held['targetCondition'], held['priority'], held['labels']) == ("tags.gpu='t4'", 10, {'owner': 'edge-gpu'})
    assert held['content']['modulesContent']['$edgeAgent']['properties.desired']['runtime']['settings'][
        'registryCredentials']['acr']['password'] == PASSWORD

    failed, same = run(run_module, layered_args(fresh))
    assert not failed and not same['changed'] and same['deployment_id'] == first

    count = len(fresh.writes())
    failed, relabelled = run(run_module, layered_args(fresh, priority=20, labels={'owner': 'ops'}))
    assert not failed and relabelled['changed'] and relabelled['updated'] == first and relabelled['deleted'] == []
    put = fresh.writes()[count:]
    assert [(item['method'], item['headers'].get('If-Match')) for item in put] == [('PUT', '"%s"' % held['etag'])]
    assert fresh.configurations[first]['priority'] == 20 and list(fresh.configurations) == [first]

    failed, renewed = run(run_module, layered_args(fresh, manifest=manifest(image='acr.example/detector:2')))
    assert not failed and renewed['changed'] and renewed['deployment_id'] != first and renewed['deleted'] == [first]
    assert list(fresh.configurations) == [renewed['deployment_id']]
    methods = [item['method'] for item in fresh.writes()[count + 1:]]
    assert methods == ['PUT', 'DELETE']  # the old version goes only after the new one was accepted

    failed, gone = run(run_module, layered_args(fresh, state='absent', manifest=None))
    assert not failed and gone['changed'] and gone['deleted'] == [renewed['deployment_id']] and fresh.configurations == {}
    failed, again = run(run_module, layered_args(fresh, state='absent', manifest=None))
    assert not failed and not again['changed']


def test_layered_check_mode_and_diff(fresh, run_module):
    failed, result = run(run_module, layered_args(fresh), check_mode=True, diff=True)
    assert not failed and result['changed'] and fresh.writes() == [] and fresh.configurations == {}
    after = json.loads(result['diff']['after'])
    assert after[0]['id'] == result['deployment_id'] and json.loads(result['diff']['before']) == []
    assert PASSWORD not in json.dumps(result) and '********' in result['diff']['after']


def test_layered_new_version_failing_keeps_the_old_one(fresh, run_module):
    failed, created = run(run_module, layered_args(fresh))
    fresh.fail_next(400, method='PUT')
    failed, result = run(run_module, layered_args(fresh, manifest=manifest(image='acr.example/detector:2')))
    assert failed and "create deployment 'gpu-t4-" in result['msg'] and 'HTTP 400' in result['msg']
    assert list(fresh.configurations) == [created['deployment_id']]


def test_other_deployments_are_left_alone(fresh, run_module):
    run(run_module, layered_args(fresh, deployment_id='gpu-t4-other'))
    run(run_module, layered_args(fresh))
    failed, gone = run(run_module, layered_args(fresh, state='absent', manifest=None))
    assert not failed and len(gone['deleted']) == 1
    assert [key for key in fresh.configurations if key.startswith('gpu-t4-other-')]


def test_a_create_whose_answer_was_lost_is_not_an_error_on_retry(fresh, run_module):
    fresh.fail_next(503, method='PUT', applied=True)
    failed, result = run(run_module, layered_args(fresh))
    assert not failed and result['changed'] and list(fresh.configurations) == [result['deployment_id']]
    assert [item['status'] for item in fresh.requests if item['method'] == 'PUT'] == [503, 409]


def test_an_update_whose_answer_was_lost_is_not_an_error_on_retry(fresh, run_module):
    run(run_module, layered_args(fresh))
    fresh.fail_next(500, method='PUT', applied=True)
    failed, result = run(run_module, layered_args(fresh, priority=30))
    assert not failed and result['updated'] == result['deployment_id']
    assert fresh.configurations[result['deployment_id']]['priority'] == 30
    assert [item['status'] for item in fresh.requests if item['method'] == 'PUT'][-2:] == [500, 412]


def test_a_conflicting_deployment_with_other_settings_is_still_an_error(fresh, run_module):
    run(run_module, layered_args(fresh))
    fresh.fail_next(500, method='PUT', applied=True)
    # Someone else changes the priority between our lost answer and the retry: 412, and the hub
    # does not hold what we sent, so the error stands.
    first = list(fresh.configurations)[0]
    original = fresh._configuration

    def meddle(method, configuration_id, if_match, body):
        answer = original(method, configuration_id, if_match, body)
        if method == 'PUT' and answer[0] == 200:
            with fresh.lock:
                fresh.configurations[first]['priority'] = 99
        return answer
    fresh._configuration = meddle
    try:
        failed, result = run(run_module, layered_args(fresh, priority=30))
    finally:
        del fresh._configuration
    assert failed and 'HTTP 412' in result['msg'] and "update deployment '%s'" % first in result['msg']


def test_sas_only_connection_string(fresh, run_module):
    token = iothub.sas_token(fresh.host, KEY, 'iothubowner', iothub.now() + 600)
    failed, result = run(run_module, device_args(fresh, connection_string='HostName=%s;SharedAccessSignature=%s'
                                                 % (fresh.host, token)))
    assert not failed and result['changed'] and token not in json.dumps(result)


def test_validate_certs_false_trusts_any_certificate(fresh, run_module):
    args = device_args(fresh, validate_certs=False)
    del args['ca_path']
    failed, result = run(run_module, args)
    assert not failed and result['changed']
