# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""iotedge_deployment through ansible-playbook -vvv against the HTTPS IoT Hub stand-in (one run)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os
import sys
import urllib.parse

import pytest

from iothub_standin import IotHubStandin

# From Microsoft's REST reference, not from the module:
# https://learn.microsoft.com/rest/api/iothub/service/configuration/apply-on-edge-device
#   (ConfigurationContent: deviceContent, moduleContent, modulesContent)
# https://learn.microsoft.com/rest/api/iothub/service/configuration/create-or-update
#   (Configuration: content, createdTimeUtc, etag, id, labels, lastUpdatedTimeUtc, metrics, priority,
#    schemaVersion, systemMetrics, targetCondition; header If-Match)
API_VERSION = '2021-04-12'
CONFIGURATION_CONTENT_FIELDS = {'deviceContent', 'moduleContent', 'modulesContent'}
CONFIGURATION_FIELDS = {'content', 'createdTimeUtc', 'etag', 'id', 'labels', 'lastUpdatedTimeUtc', 'metrics',
                        'priority', 'schemaVersion', 'systemMetrics', 'targetCondition'}

KEY = base64.b64encode(b'integration-key-0123456789abcdef').decode('ascii')
WRONG_KEY = base64.b64encode(b'not-the-key-0123456789abcdef0000').decode('ascii')
PASSWORD = 'pull "secret" \\ pässwort'
REGISTRY = 'registry.example'


@pytest.fixture
def hub():
    with IotHubStandin(key_name='iothubowner', key=KEY, devices=['edge-01', 'edge-02']) as standin:
        yield standin


def test_device_and_layered_deployments(hub, playbook, custom_inventory, tmp_path, monkeypatch):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    wrong = hub.connection_string.replace(KEY, WRONG_KEY)
    monkeypatch.setenv('IOTHUB_CONNECTION_STRING', hub.connection_string)
    monkeypatch.setenv('IOTHUB_WRONG_CONNECTION_STRING', wrong)
    inventory = custom_inventory({'controller': sys.executable})
    run = playbook('iotedge_deployment_module.yml', inventory=inventory, args=('-vvv',), extra_vars={
        'standin_control': 'https://%s/_standin/' % hub.host, 'standin_ca': hub.ca_file, 'work_dir': str(work_dir),
        'registry_address': REGISTRY, 'registry_password': PASSWORD})
    assert run.recap()['controller']['failed'] == 0, run.output[-5000:]
    results = run.result('controller')

    # Device: first apply changes, the second does not.
    first, second = results['device_first'], results['device_second']
    assert first['changed'] and first['modules_changed'] == ['$edgeAgent', '$edgeHub']
    assert not second['changed'] and second['modules_changed'] == []
    with open(str(work_dir / 'manifest-1.json')) as handle:
        manifest_1 = json.load(handle)
    posts = [item for item in hub.between('device_first') if item['method'] == 'POST']
    assert [item['path'] for item in posts] == ['/devices/edge-01/applyConfigurationContent']
    assert set(posts[0]['body']) <= CONFIGURATION_CONTENT_FIELDS and posts[0]['body'] == manifest_1
    assert hub.module_twin('edge-01', '$edgeAgent') == manifest_1['modulesContent']['$edgeAgent']['properties.desired']
    assert [item['method'] for item in hub.between('device_second')] == ['GET', 'GET']

    # Check mode: changed, nothing written, a diff with the new image and the password masked.
    check = results['device_check']
    assert check['changed'] and [item['method'] for item in hub.between('device_check')] == ['GET', 'GET']
    assert 'detector:2' in check['diff']['after'] and 'detector:1' in check['diff']['before']

    # A wrong key: the hub and the key name in the message, nothing written.
    wrong_key = results['wrong_key']
    assert wrong_key['failed'] and wrong_key['error_kind'] == 'iothub'
    assert hub.host in wrong_key['msg'] and "key name 'iothubowner'" in wrong_key['msg'] and '401' in wrong_key['msg']
    assert [item['status'] for item in hub.between('wrong_key')] == [401]

    # iotedge_manifest's registered result has its credentials (and the image naming the
    # registry) masked by no_log: refused before any request.
    masked = results['masked']
    assert masked['failed'] and masked['error_kind'] == 'manifest' and 'src' in masked['msg']
    assert hub.between('masked') == []

    # 429 with Retry-After, then success.
    throttled = results['throttled']
    assert throttled['changed']
    assert [(item['method'], item['status']) for item in hub.between('throttled')][:2] == [('GET', 429), ('GET', 200)]
    assert hub.module_twin('edge-02', '$edgeAgent')['modules']['detector']['settings']['image'] == REGISTRY + '/detector:2'

    # Layered: create, same, new content (new id, the old deleted after the new is accepted), absent.
    created, same, new, absent = (results[name] for name in ('layered_create', 'layered_same', 'layered_new', 'layered_absent'))
    assert created['changed'] and created['deployment_id'].startswith('gpu-t4-')
    assert not same['changed'] and same['deployment_id'] == created['deployment_id']
    assert new['changed'] and new['deployment_id'] != created['deployment_id'] and new['deleted'] == [created['deployment_id']]
    assert absent['changed'] and absent['deleted'] == [new['deployment_id']] and hub.configurations == {}
    put = [item for item in hub.between('layered_create') if item['method'] == 'PUT'][0]
    assert put['path'] == '/configurations/' + created['deployment_id'] and 'If-Match' not in put['headers']
    assert set(put['body']) <= CONFIGURATION_FIELDS
    assert put['body']['id'] == created['deployment_id'] and put['body']['schemaVersion']
    assert (put['body']['targetCondition'], put['body']['priority'], put['body']['labels']) == (
        "tags.gpu='t4'", 10, {'owner': 'edge-gpu'})
    assert set(put['body']['content']) <= CONFIGURATION_CONTENT_FIELDS and put['body']['content'] == manifest_1
    assert [item['method'] for item in hub.between('layered_same')] == ['GET']
    renewal = [(item['method'], item['path']) for item in hub.between('layered_new') if item['method'] != 'GET']
    assert renewal == [('PUT', '/configurations/' + new['deployment_id']),
                       ('DELETE', '/configurations/' + created['deployment_id'])]
    assert all(item['headers'].get('If-Match') for item in hub.between('layered_new') + hub.between('layered_absent')
               if item['method'] == 'DELETE')

    # Every request carried the pinned api-version.
    requests = [item for item in hub.requests if 'method' in item]
    assert requests and all(item['query'].get('api-version') == API_VERSION for item in requests)

    # No connection string, key or SAS signature in the -vvv output or in any file the run wrote.
    secrets = [hub.connection_string, wrong, KEY, WRONG_KEY]
    for signature in hub.signatures_seen:
        secrets += [signature, urllib.parse.quote_plus(signature), urllib.parse.quote(signature, safe='')]
    assert len(hub.signatures_seen) >= 10
    texts = {'output': run.output}
    for folder, _dirs, names in os.walk(str(tmp_path)):
        for name in names:
            with open(os.path.join(folder, name), 'rb') as handle:
                texts[os.path.join(folder, name)] = handle.read().decode('utf-8', 'replace')
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, 'a secret appears in %s' % where
    # The registry password (given again to iotedge_deployment) neither raw nor JSON-escaped.
    for form in (PASSWORD, json.dumps(PASSWORD)[1:-1], json.dumps(PASSWORD, ensure_ascii=False)[1:-1]):
        assert form not in run.output
