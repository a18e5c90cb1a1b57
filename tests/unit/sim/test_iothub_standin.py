# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The IoT Hub stand-in itself: it refuses what IoT Hub refuses (it is the oracle of the module's tests)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac
import importlib.util
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

STANDIN = os.path.join(os.path.dirname(__file__), '..', '..', 'integration', 'iothub_standin.py')
KEY = base64.b64encode(b's' * 32).decode('ascii')


def load():
    spec = importlib.util.spec_from_file_location('sim_iothub_standin', STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def token(host, key=KEY, name='iothubowner', expiry=None):
    """Microsoft's documented SAS algorithm, written here independently of the module."""
    expiry = int(time.time()) + 300 if expiry is None else expiry
    signature = base64.b64encode(hmac.new(base64.b64decode(key), ('%s\n%d' % (urllib.parse.quote_plus(host), expiry)).encode(),
                                          hashlib.sha256).digest())
    return 'SharedAccessSignature ' + urllib.parse.urlencode({'sr': host, 'sig': signature, 'se': expiry, 'skn': name})


@pytest.fixture(scope='module')
def hub():
    with load().IotHubStandin(key=KEY, devices=['edge-01']) as standin:
        yield standin


def call(hub, method, path, body=None, auth=None, version='2021-04-12', headers=None):
    url = 'https://%s%s?api-version=%s' % (hub.host, path, version)
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
    request.add_header('Authorization', auth or token(hub.host))
    request.add_header('Content-Type', 'application/json')
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    context = ssl.create_default_context(cafile=hub.ca_file)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            data = response.read()
            return response.status, json.loads(data) if data else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b'null')


@pytest.mark.parametrize('auth, message', [
    ('expired', 'expired'),
    ('wrong_key', 'signature does not match'),
    ('unknown_name', 'Unknown shared access policy'),
    ('other_hub', 'not this hub'),
    ('Basic abc', 'Missing or malformed'),
])
def test_sas_refusals(hub, auth, message):
    header = {
        'expired': token(hub.host, expiry=int(time.time()) - 1),
        'wrong_key': token(hub.host, key=base64.b64encode(b'x' * 32).decode()),
        'unknown_name': token(hub.host, name='device'),
        'other_hub': token('other.azure-devices.net'),
    }.get(auth, auth)
    status, body = call(hub, 'GET', '/twins/edge-01/modules/$edgeAgent', auth=header)
    assert status == 401 and message in body['Message']


def test_a_good_token_and_the_api_version(hub):
    assert call(hub, 'GET', '/twins/edge-01/modules/$edgeAgent')[0] == 200
    status, body = call(hub, 'GET', '/twins/edge-01/modules/$edgeAgent', version='2018-06-30')
    assert status == 400 and '2018-06-30' in body['Message']
    recorded = hub.requests[-1]
    assert 'Authorization' not in recorded['headers'] and recorded['query']['api-version'] == '2018-06-30'


def test_configurations_follow_the_documented_rules(hub):
    body = {'id': 'x-1', 'schemaVersion': '1.0', 'labels': {}, 'targetCondition': "tags.a='b'", 'priority': 1,
            'content': {'modulesContent': {'$edgeAgent': {}}}}
    status, created = call(hub, 'PUT', '/configurations/x-1', body)
    assert status == 201 and created['etag']
    assert call(hub, 'PUT', '/configurations/x-1', body)[0] == 409
    assert call(hub, 'PUT', '/configurations/x-1', dict(body, priority=2), headers={'If-Match': '"nope"'})[0] == 412
    changed = dict(body, content={'modulesContent': {'$edgeHub': {}}})
    status, refused = call(hub, 'PUT', '/configurations/x-1', changed, headers={'If-Match': '"%s"' % created['etag']})
    assert status == 400 and 'cannot be updated' in refused['Message']
    status, updated = call(hub, 'PUT', '/configurations/x-1', dict(body, priority=2),
                           headers={'If-Match': '"%s"' % created['etag']})
    assert status == 200 and updated['priority'] == 2 and updated['etag'] != created['etag']
    assert call(hub, 'PUT', '/configurations/Bad', dict(body, id='Bad'))[0] == 400
    assert call(hub, 'DELETE', '/configurations/x-1', headers={'If-Match': '*'})[0] == 204
    assert call(hub, 'GET', '/configurations/x-1')[0] == 404


def test_standalone_entry_prints_where_it_listens_and_stops_on_sigterm():
    proc = subprocess.Popen([sys.executable, STANDIN, '--device', 'edge-07', '--key', KEY],
                            stdout=subprocess.PIPE, universal_newlines=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info['connection_string'] == 'HostName=%s;SharedAccessKeyName=iothubowner;SharedAccessKey=%s' % (
            info['host'], KEY)
        assert os.path.exists(info['ca_file'])
        standin = type('Hub', (), {'host': info['host'], 'ca_file': info['ca_file']})
        assert call(standin, 'GET', '/twins/edge-07/modules/$edgeHub')[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not os.path.exists(info['ca_file'])
