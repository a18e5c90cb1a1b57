# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""iothub.py: connection strings, SAS tokens, retries, and what "already applied" means."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac
import json
import urllib.parse

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import iothub
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption, IotHubError, ManifestError

KEY = base64.b64encode(b'k' * 32).decode('ascii')


def manifest(**agent_modules):
    return {'modulesContent': {
        '$edgeAgent': {'properties.desired': {
            'schemaVersion': '1.1', 'runtime': {'type': 'docker', 'settings': {'minDockerVersion': 'v1.25'}},
            'systemModules': {'edgeAgent': {'type': 'docker', 'settings': {'image': 'agent:1'}}},
            'modules': dict((name, {'type': 'docker', 'settings': {'image': image}}) for name, image in agent_modules.items())}},
        '$edgeHub': {'properties.desired': {'schemaVersion': '1.1', 'routes': {'up': 'FROM /messages/* INTO $upstream'}}},
    }}


# -- connection strings -------------------------------------------------------------------------

def test_connection_string_with_port():
    credentials = iothub.parse_connection_string(
        'HostName=hub.example.net:8443;SharedAccessKeyName=iothubowner;SharedAccessKey=%s' % KEY)
    assert (credentials.host, credentials.key_name, credentials.key, credentials.token) == (
        'hub.example.net:8443', 'iothubowner', KEY, None)


def test_connection_string_with_a_signature_instead_of_a_key():
    token = 'SharedAccessSignature sr=hub.example.net&sig=abc%3D&se=4102444800&skn=service'
    credentials = iothub.parse_connection_string('HostName=hub.example.net;SharedAccessSignature=%s' % token)
    assert credentials.token == token and credentials.key is None
    assert "'service'" in credentials.who()


@pytest.mark.parametrize('text, named', [
    ('SharedAccessKeyName=owner;SharedAccessKey=%s' % KEY, 'HostName'),
    ('HostName=hub.example.net;SharedAccessKey=%s' % KEY, 'SharedAccessKeyName'),
    ('HostName=hub.example.net;SharedAccessKeyName=owner', 'SharedAccessKey'),
    ('HostName=hub.example.net;SharedAccessKeyName=owner;SharedAccessKey=not*base64!', 'not base64'),
    ('HostName=hub.example.net;SharedAccessKeyName=owner;SharedAccessKey=%s;DeviceId=d1' % KEY, 'DeviceId'),
    ('HostName=hub example;SharedAccessKeyName=owner;SharedAccessKey=%s' % KEY, 'HostName'),
    ('HostName=hub.example.net:99999;SharedAccessKeyName=owner;SharedAccessKey=%s' % KEY, 'HostName'),
    ('HostName=hub.example.net;Colour=blue;SharedAccessKeyName=owner;SharedAccessKey=%s' % KEY, 'Colour'),
    ('HostName=hub.example.net;SharedAccessKeyName=owner;SharedAccessKey=%s;SharedAccessKey=%s' % (KEY, KEY), 'twice'),
    ('HostName=hub.example.net;SharedAccessKeyName=owner;SharedAccessKey=%s;junk' % KEY, 'Name=value'),
    ('', 'empty'),
])
def test_bad_connection_strings_name_the_field_never_the_key(text, named):
    with pytest.raises(InvalidOption) as info:
        iothub.parse_connection_string(text)
    assert named in str(info.value)
    assert KEY not in str(info.value) and 'not*base64!' not in str(info.value)


# -- SAS tokens ---------------------------------------------------------------------------------

def microsoft_sas(uri, key, policy, expiry):
    """Written from Microsoft's "Control access to IoT Hub with SAS" sample, not from iothub.py."""
    to_sign = '%s\n%d' % (urllib.parse.quote_plus(uri), expiry)
    signature = base64.b64encode(hmac.HMAC(base64.b64decode(key), to_sign.encode('utf-8'), hashlib.sha256).digest())
    return 'SharedAccessSignature ' + urllib.parse.urlencode({'sr': uri, 'sig': signature, 'se': str(expiry), 'skn': policy})


def test_sas_token_matches_microsofts_algorithm():
    assert iothub.sas_token('myhub.azure-devices.net', KEY, 'iothubowner', 1700000000) == microsoft_sas(
        'myhub.azure-devices.net', KEY, 'iothubowner', 1700000000)


def test_sas_token_for_a_host_with_a_port_signs_the_encoded_port():
    token = iothub.sas_token('127.0.0.1:8443', KEY, 'owner', 1700000000)
    assert token == microsoft_sas('127.0.0.1:8443', KEY, 'owner', 1700000000)
    assert 'sr=127.0.0.1%3A8443' in token


def test_key_credentials_make_a_token_valid_for_an_hour_from_now():
    credentials = iothub.Credentials('hub.example.net', key_name='owner', key=KEY)
    token = credentials.authorization(1000.5)
    assert iothub.token_expiry(token) == 1000 + 3600
    assert token == microsoft_sas('hub.example.net', KEY, 'owner', 4600)


@pytest.mark.parametrize('token, named', [
    ('sr=a&sig=b&se=1', 'SharedAccessSignature '),
    ('SharedAccessSignature sr=a&se=1', 'sig'),
    ('SharedAccessSignature sr=a&sig=b&se=soon', 'expiry'),
])
def test_bad_sas_tokens(token, named):
    with pytest.raises(InvalidOption) as info:
        iothub.check_sas_token(token, 'sas_token')
    assert named in str(info.value) and 'sig=b' not in str(info.value)


def test_expired_sas_token_refused_before_any_request():
    params = {'sas_token': 'SharedAccessSignature sr=hub.example.net&sig=x&se=100&skn=owner', 'hub': 'hub.example.net'}
    with pytest.raises(InvalidOption, match='expired at 1970-01-01 00:01:40'):
        iothub.credentials_from(params, clock=lambda: 200)


def test_sas_token_needs_hub_and_connection_string_must_match_hub():
    with pytest.raises(InvalidOption, match='sas_token needs hub'):
        iothub.credentials_from({'sas_token': 'SharedAccessSignature sr=h&sig=x&se=9999999999'})
    with pytest.raises(InvalidOption, match='is not the connection string'):
        iothub.credentials_from({'connection_string': 'HostName=a.net;SharedAccessKeyName=o;SharedAccessKey=%s' % KEY,
                                 'hub': 'b.net'})
    with pytest.raises(InvalidOption, match='IOTHUB_CONNECTION_STRING'):
        iothub.credentials_from({})


# -- requests, retries, back-off ----------------------------------------------------------------

class FakeTransport(object):
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, method, url, body, headers, timeout):
        self.calls.append({'method': method, 'url': url, 'body': body, 'headers': dict(headers), 'timeout': timeout})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_hub(answers, retries=4, clock=None):
    slept = []
    transport = FakeTransport(answers)
    credentials = iothub.Credentials('hub.example.net', key_name='owner', key=KEY)
    hub = iothub.Hub(credentials, timeout=7, retries=retries, transport=transport, sleep=slept.append,
                     clock=clock or (lambda: 1000))
    return hub, transport, slept


def test_429_then_200_waits_retry_after_and_signs_each_try():
    times = iter([1000, 1005])
    hub, transport, slept = make_hub([(429, {'Retry-After': '3'}, b'{"Message": "slow down"}'),
                                      (200, {}, b'{"ok": 1}')], clock=lambda: next(times))
    assert hub.request('GET', '/x', 'read x')[1] == {'ok': 1}
    assert slept == [3.0]
    assert [iothub.token_expiry(call['headers']['Authorization']) for call in transport.calls] == [4600, 4605]
    assert transport.calls[0]['url'] == 'https://hub.example.net/x?api-version=2021-04-12'
    assert transport.calls[0]['timeout'] == 7


def test_backoff_doubles_and_is_capped_then_gives_up_with_the_hubs_message():
    hub, transport, slept = make_hub([(500, {}, b'{"message": "boom"}')] * 8, retries=7)
    with pytest.raises(IotHubError) as info:
        hub.request('GET', '/x', "read module twin $edgeAgent of device 'edge-01'")
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert len(transport.calls) == 8
    text = str(info.value)
    assert 'hub.example.net' in text and "device 'edge-01'" in text and 'HTTP 500' in text and 'boom' in text
    assert 'after 8 tries' in text


def test_retry_after_is_capped_and_an_http_date_falls_back_to_backoff():
    assert iothub.retry_delay(0, {'retry-after': '600'}) == 60.0
    assert iothub.retry_delay(2, {'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT'}) == 4.0


def test_connection_errors_are_retried_but_certificate_errors_are_not():
    hub, transport, slept = make_hub([iothub.TransportError('cannot connect: refused'), (204, {}, b'')])
    assert hub.request('POST', '/y', 'apply')[0] == 204
    assert slept == [1.0]
    hub, transport, slept = make_hub([iothub.TransportError('TLS certificate not trusted', retry=False)])
    with pytest.raises(IotHubError, match='hub.example.net: apply: TLS certificate not trusted'):
        hub.request('POST', '/y', 'apply')
    assert slept == [] and len(transport.calls) == 1


def test_timeouts_exhaust_the_retries():
    hub, transport, slept = make_hub([iothub.TransportError('no answer within 7 seconds')] * 3, retries=2)
    with pytest.raises(IotHubError, match='no answer within 7 seconds after 3 tries'):
        hub.request('GET', '/x', 'read x')


def test_401_names_the_key_name_and_never_the_key_or_token():
    hub, transport, _slept = make_hub([(401, {}, json.dumps({'Message': 'IotHubUnauthorizedAccess'}).encode())])
    with pytest.raises(IotHubError) as info:
        hub.request('GET', '/configurations', "list configurations to find deployment 'gpu'")
    text = str(info.value)
    assert "key name 'owner'" in text and 'hub.example.net' in text and "deployment 'gpu'" in text and 'HTTP 401' in text
    token = transport.calls[0]['headers']['Authorization']
    signature = urllib.parse.unquote(token.split('sig=')[1].split('&')[0])
    assert KEY not in text and token not in text and signature not in text


def test_a_hub_message_echoing_the_token_is_scrubbed():
    hub, transport, _slept = make_hub([])
    transport.answers.append((400, {}, b''))

    def echo(method, url, body, headers, timeout):
        return 400, {}, json.dumps({'Message': 'bad header ' + headers['Authorization']}).encode()
    hub.transport = echo
    with pytest.raises(IotHubError) as info:
        hub.request('GET', '/x', 'read x')
    assert 'SharedAccessSignature' not in str(info.value) and '********' in str(info.value)


def test_every_token_made_is_reported_for_masking():
    secrets = []
    hub, _transport, _slept = make_hub([(200, {}, b'{}')])
    hub.on_secret = secrets.extend
    hub.request('GET', '/x', 'read x')
    assert secrets[0].startswith('SharedAccessSignature ') and len(secrets) == 3


def test_missing_module_twin_reads_as_none_but_a_missing_device_fails():
    hub, _transport, _slept = make_hub([(404, {}, b'{"Message": "ErrorCode:ModuleNotFound"}')])
    assert hub.module_desired('edge-01', 'detector') is None
    hub, _transport, _slept = make_hub([(404, {}, b'{"Message": "ErrorCode:DeviceNotFound;edge-09"}')])
    with pytest.raises(IotHubError, match="device 'edge-09'.*HTTP 404.*DeviceNotFound"):
        hub.module_desired('edge-09', '$edgeAgent')


# -- manifests and comparison -------------------------------------------------------------------

def test_twin_metadata_is_ignored_when_comparing():
    wanted = {'$edgeHub': {'routes': {'up': 'x'}, 'schemaVersion': '1.1'}}
    held = {'$edgeHub': {'routes': {'up': 'x', '$metadata': {'a': 1}}, 'schemaVersion': '1.1', '$metadata': {},
                         '$version': 9}}
    current = dict((k, iothub.strip_twin_metadata(v)) for k, v in held.items())
    assert iothub.device_differences(wanted, current) == []
    assert iothub.device_differences(wanted, {'$edgeHub': {'routes': {}}}) == ['$edgeHub']
    assert iothub.device_differences({'detector': {'threshold': 1}}, {'detector': None}) == ['detector']


def test_registry_credentials_are_put_back_where_ansible_masked_them():
    given = manifest(app='acr.io/app:1')
    given['modulesContent']['$edgeAgent']['properties.desired']['runtime']['settings']['registryCredentials'] = {
        'acr': {'address': 'acr.io', 'username': 'u', 'password': 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'}}
    with pytest.raises(ManifestError, match="registry credential 'acr' has its password masked"):
        iothub.modules_content(given)
    content = iothub.modules_content(given, {'acr': {'address': 'acr.io', 'username': 'u', 'password': 'p@ss'}})
    settings = content['$edgeAgent']['properties.desired']['runtime']['settings']
    assert settings['registryCredentials']['acr']['password'] == 'p@ss'
    assert 'VALUE_SPECIFIED' in json.dumps(given)  # the caller's manifest is not changed
    shown = iothub.masked_content(content)
    assert shown['$edgeAgent']['properties.desired']['runtime']['settings']['registryCredentials']['acr']['password'] == '********'


def test_stars_in_a_credential_and_markers_anywhere_are_refused():
    given = manifest()
    given['modulesContent']['$edgeAgent']['properties.desired']['runtime']['settings']['registryCredentials'] = {
        'acr': {'address': 'acr.io', 'username': '********', 'password': 'p'}}
    with pytest.raises(ManifestError, match="'acr' has its username masked"):
        iothub.modules_content(given)
    given = manifest(app='a:1')
    given['modulesContent']['$edgeAgent']['properties.desired']['modules']['app']['env'] = {
        'TOKEN': {'value': 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'}}
    with pytest.raises(ManifestError, match=r'\$edgeAgent.properties.desired.modules.app.env.TOKEN.value holds a value masked'):
        iothub.modules_content(given)


@pytest.mark.parametrize('given, message', [
    ({'$edgeAgent': {}}, 'with modulesContent'),
    ({'modulesContent': {}, 'extra': 1}, 'other than modulesContent'),
    ({'modulesContent': {'$edgeHub': {'properties.desired': {}}}}, r'no \$edgeAgent'),
    ({'modulesContent': {'$edgeAgent': {'properties.desired': {}}, '$edgeHub': {'desired': {}}}}, r'\$edgeHub must be'),
    ({'modulesContent': {'$edgeAgent': {'properties.desired': {}}, '$edgeHub': {'properties.desired': {}}}}, 'needs runtime'),
])
def test_manifest_shape(given, message):
    with pytest.raises(ManifestError, match=message):
        iothub.modules_content(given)


def test_versions_are_found_by_id_and_hash_only():
    items = [{'id': 'gpu-0123abcd'}, {'id': 'gpu-x-0123abcd'}, {'id': 'gpu'}, {'id': 'gpu-0123abcdef'},
             {'id': 'gpu-ffffffff'}, {'id': 'gpux-0123abcd'}]
    assert [item['id'] for item in iothub.versions_of('gpu', items)] == ['gpu-0123abcd', 'gpu-ffffffff']


def test_content_hash_is_stable_and_follows_the_content():
    one, two = manifest(app='a:1')['modulesContent'], manifest(app='a:2')['modulesContent']
    reordered = json.loads(json.dumps(one, sort_keys=True))
    assert iothub.versioned_id('gpu', one) == iothub.versioned_id('gpu', reordered)
    assert iothub.versioned_id('gpu', one) != iothub.versioned_id('gpu', two)
    assert len(iothub.versioned_id('gpu', one)) == len('gpu-') + 8


@pytest.mark.parametrize('value', ['GPU', 'gpu sharing', '', 'a' * 120, 'gpu/one', 'gpú', None])
def test_bad_deployment_ids(value):
    with pytest.raises(InvalidOption, match='deployment_id'):
        iothub.check_deployment_id(value)


def test_deployment_id_allows_what_iot_hub_allows():
    assert iothub.check_deployment_id("a-b+c%d_e*f!g'h" + 'x' * 104)


@pytest.mark.parametrize('labels', [{'a': 1}, {'$owner': 'x'}, {'a': 'two words'}, {'a' * 129: 'x'}])
def test_bad_labels(labels):
    with pytest.raises(InvalidOption, match='labels'):
        iothub.check_labels(labels)


def test_configuration_body_uses_the_documented_field_names():
    body = iothub.configuration_body('gpu-0123abcd', {'$edgeAgent': {}}, "tags.a='b'", 3, {'k': 'v'})
    assert set(body) == {'id', 'schemaVersion', 'labels', 'content', 'targetCondition', 'priority', 'metrics'}
    assert body['content'] == {'modulesContent': {'$edgeAgent': {}}}


def test_an_image_masked_because_it_holds_the_registry_address_is_refused():
    # What a registered iotedge_manifest result looks like when the image names the registry
    # whose address is in the no_log registry_credentials.
    given = manifest(detector='********/detector:1')
    credentials = {'acr': {'address': 'registry.example', 'username': 'u', 'password': 'p'}}
    with pytest.raises(ManifestError) as info:
        iothub.modules_content(given, credentials)
    assert '$edgeAgent.properties.desired.modules.detector.settings.image' in str(info.value)
    assert 'src' in str(info.value)
