# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A local HTTPS stand-in for the IoT Hub service REST endpoints the iotedge_deployment module uses.

Written from Microsoft's REST reference (api-version 2021-04-12) and SAS token description, not from
the module: it checks the ``Authorization`` header as IoT Hub does (the key named by ``skn`` signs
the URL-encoded resource URI, a newline and the expiry ``se``; an expired token, a wrong signature or
an unknown key name get 401 with ``{"Message": ...}``), checks ``api-version``, keeps module twins
and configurations (with etags) in memory, and records each request.

    with IotHubStandin(key_name='iothubowner', key=b64key) as hub:
        hub.add_device('edge-01')
        hub.connection_string, hub.ca_file, hub.host, hub.requests, hub.fail_next(429, retry_after=1)

``python iothub_standin.py [--device ID ...] [--key-name N] [--key K]`` serves until killed, after
printing ``{"host", "ca_file", "connection_string", "control"}`` as one JSON line. Tests that run
ansible-playbook reach the control endpoints (not IoT Hub's; no authorization, loopback only):
``POST /_standin/fail_next`` with ``{"status", "count", "retry_after", "method", "applied"}``, ``GET /_standin/requests``,
``GET /_standin/state`` (twins and configurations), ``POST /_standin/mark`` with ``{"name"}`` (a marker
among the recorded requests, so a test can tell which task sent what).

References:
  https://learn.microsoft.com/rest/api/iothub/service/configuration
  https://learn.microsoft.com/rest/api/iothub/service/modules/get-twin
  https://learn.microsoft.com/azure/iot-hub/authenticate-authorize-sas
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import base64
import copy
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote_plus, unquote, urlsplit

API_VERSION = '2021-04-12'
CONFIGURATION_ID = re.compile(r"^[a-z0-9\-+%_*!']{1,128}$")


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert PEM path, key PEM path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'iothub-standin')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(u'localhost'),
                                                        x509.IPAddress(ipaddress.ip_address(u'127.0.0.1'))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path = os.path.join(directory, 'standin-ca.pem')
    key_path = os.path.join(directory, 'standin-key.pem')
    with open(cert_path, 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    return cert_path, key_path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'IotHubStandin/1'

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status, body=None, headers=None):
        data = b'' if body is None else json.dumps(body).encode('utf-8')
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if data:
                self.send_header('Content-Type', 'application/json; charset=utf-8')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the client gave up waiting (a stalled answer)

    def _handle(self):
        hub = self.server.standin
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        split = urlsplit(self.path)
        query = dict((k, v[0]) for k, v in parse_qs(split.query).items())
        if split.path.startswith('/_standin/'):
            return self._control(split.path, raw)
        try:
            body = json.loads(raw.decode('utf-8')) if raw else None
        except ValueError:
            body = '<not JSON>'
        headers = dict((k, v) for k, v in self.headers.items() if k.lower() != 'authorization')
        record = {'method': self.command, 'path': unquote(split.path), 'query': query, 'headers': headers, 'body': body}
        status, reply, reply_headers = hub.answer(self.command, unquote(split.path), query,
                                                  self.headers.get('Authorization'), self.headers, body, record)
        record['status'] = status
        with hub.lock:
            hub.requests.append(record)
        if status == 'stall':
            time.sleep(reply)
            status, reply, reply_headers = 500, {'Message': 'stalled'}, {}
        self._reply(status, reply, reply_headers)
        return None

    def _control(self, path, raw):
        hub = self.server.standin
        if path == '/_standin/fail_next' and self.command == 'POST':
            spec = json.loads(raw.decode('utf-8') or '{}')
            hub.fail_next(int(spec['status']), int(spec.get('count', 1)), spec.get('retry_after'), spec.get('method'),
                          bool(spec.get('applied')))
            return self._reply(200, {'armed': True})
        if path == '/_standin/mark' and self.command == 'POST':
            hub.mark(json.loads(raw.decode('utf-8') or '{}').get('name', ''))
            return self._reply(200, {'marked': True})
        if path == '/_standin/requests' and self.command == 'GET':
            with hub.lock:
                return self._reply(200, list(hub.requests))
        if path == '/_standin/state' and self.command == 'GET':
            return self._reply(200, hub.state())
        return self._reply(404, {'Message': 'unknown control path'})

    do_GET = _handle
    do_PUT = _handle
    do_POST = _handle
    do_DELETE = _handle


class IotHubStandin(object):
    """The stand-in hub. ``key`` is the base64 shared access key of ``key_name``."""

    def __init__(self, key_name='iothubowner', key=None, devices=(), clock=time.time):
        self.key_name = key_name
        self.key = key or base64.b64encode(os.urandom(32)).decode('ascii')
        self.keys = {key_name: self.key}
        self.clock = clock
        self.lock = threading.Lock()
        self.requests = []
        self.signatures_seen = []
        self.twins = {}
        self.configurations = {}
        self._faults = []
        self._stalls = []
        self._dir = None
        self._server = None
        self._thread = None
        for device in devices:
            self.add_device(device)

    # -- set-up ---------------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._dir = tempfile.mkdtemp(prefix='iothub-standin-')
        cert, key = make_certificate(self._dir)
        self.ca_file = cert
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self._server.daemon_threads = True
        self._server.standin = self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.host = '127.0.0.1:%d' % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name='iothub-standin', daemon=True)
        self._thread.start()

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    @property
    def connection_string(self):
        return 'HostName=%s;SharedAccessKeyName=%s;SharedAccessKey=%s' % (self.host, self.key_name, self.key)

    def add_device(self, device_id, edge=True):
        """An IoT Edge device whose agent and hub twins hold a fresh device's desired properties."""
        with self.lock:
            self.twins[device_id] = {}
            if edge:
                self.twins[device_id]['$edgeAgent'] = self._twin(device_id, '$edgeAgent', {
                    'schemaVersion': '1.1',
                    'runtime': {'type': 'docker', 'settings': {'minDockerVersion': 'v1.25'}},
                    'systemModules': {'edgeAgent': {'type': 'docker', 'settings': {
                        'image': 'mcr.microsoft.com/azureiotedge-agent:1.5', 'createOptions': '{}'}}},
                    'modules': {}}, 1)
                self.twins[device_id]['$edgeHub'] = self._twin(device_id, '$edgeHub', {
                    'schemaVersion': '1.1', 'routes': {}, 'storeAndForwardConfiguration': {'timeToLiveSecs': 7200}}, 1)

    def fail_next(self, status, count=1, retry_after=None, method=None, applied=False):
        """Answer the next ``count`` hub requests (of ``method``, if given) with ``status``
        (and ``Retry-After``); with ``applied``, the request is carried out first (an answer lost
        on the way back)."""
        with self.lock:
            self._faults.extend([(status, retry_after, method, applied)] * count)

    def mark(self, name):
        """Put ``{"marker": name}`` among the recorded requests (tests split a run's requests by case)."""
        with self.lock:
            self.requests.append({'marker': name})

    def between(self, start, end=None):
        """The recorded requests after marker ``start`` and before marker ``end`` (or the next marker)."""
        found, picked = False, []
        for item in self.requests:
            if 'marker' in item:
                if found and (end is None or item['marker'] == end):
                    break
                found = found or item['marker'] == start
                continue
            if found:
                picked.append(item)
        return picked

    def stall_next(self, seconds, count=1):
        """Keep the next ``count`` hub requests waiting ``seconds`` before answering 500."""
        with self.lock:
            self._stalls.extend([seconds] * count)

    def module_twin(self, device_id, module_id):
        """The desired properties a module twin holds now (without metadata), or None."""
        with self.lock:
            twin = self.twins.get(device_id, {}).get(module_id)
            if twin is None:
                return None
            desired = copy.deepcopy(twin['properties']['desired'])
        desired.pop('$metadata', None)
        desired.pop('$version', None)
        return desired

    def writes(self):
        """Recorded requests that would change something (PUT, POST, DELETE, PATCH)."""
        return [item for item in self.requests if item.get('method') in ('PUT', 'POST', 'DELETE', 'PATCH')]

    def state(self):
        with self.lock:
            return {'twins': copy.deepcopy(self.twins), 'configurations': copy.deepcopy(self.configurations)}

    # -- IoT Hub --------------------------------------------------------------------------------

    def _twin(self, device_id, module_id, desired, version):
        stored = copy.deepcopy(desired)
        stored['$metadata'] = {'$lastUpdated': datetime.datetime.now(datetime.timezone.utc).isoformat()}
        stored['$version'] = version
        return {'deviceId': device_id, 'moduleId': module_id, 'etag': 'AAAAAAAAAA%d=' % version, 'version': version,
                'properties': {'desired': stored, 'reported': {'$version': 1}}}

    def check_authorization(self, header):
        """None when IoT Hub would accept ``header``, else the 401 message."""
        if not header or not header.startswith('SharedAccessSignature '):
            return 'Missing or malformed Authorization header'
        fields = {}
        for part in header[len('SharedAccessSignature '):].split('&'):
            name, _sep, value = part.partition('=')
            fields[name] = value
        if not all(fields.get(name) for name in ('sr', 'sig', 'se', 'skn')):
            return 'Malformed SharedAccessSignature: sr, sig, se and skn are required'
        resource = unquote(fields['sr'])
        if resource.lower().rstrip('/') != self.host.lower():
            return 'The resource %s is not this hub' % resource
        if not fields['se'].isdigit() or int(fields['se']) < self.clock():
            return 'SharedAccessSignature has expired'
        key = self.keys.get(unquote(fields['skn']))
        if key is None:
            return 'Unknown shared access policy'
        signed = (quote_plus(resource) + '\n' + fields['se']).encode('utf-8')
        expected = base64.b64encode(hmac.new(base64.b64decode(key), signed, hashlib.sha256).digest()).decode('ascii')
        given = unquote(fields['sig'])
        with self.lock:
            self.signatures_seen.append(given)
        if not hmac.compare_digest(expected, given):
            return 'SharedAccessSignature signature does not match'
        return None

    def answer(self, method, path, query, authorization, headers, body, record):
        with self.lock:
            if self._stalls:
                return 'stall', self._stalls.pop(0), {}
            fault = next((item for item in self._faults if item[2] in (None, method)), None)
            if fault:
                self._faults.remove(fault)
        if fault:
            status, retry_after, _method, applied = fault
            if applied:
                self._serve(method, path, query, authorization, headers, body)
            extra = {'Retry-After': str(retry_after)} if retry_after is not None else {}
            return status, {'Message': 'ErrorCode:%s;injected failure' % (
                'ThrottlingException' if status == 429 else 'ServerError')}, extra
        return self._serve(method, path, query, authorization, headers, body)

    def _serve(self, method, path, query, authorization, headers, body):
        refused = self.check_authorization(authorization)
        if refused:
            return 401, {'Message': 'ErrorCode:IotHubUnauthorizedAccess;%s' % refused}, {}
        if query.get('api-version') != API_VERSION:
            return 400, {'Message': 'ErrorCode:InvalidProtocolVersion;api-version %r is not supported'
                         % query.get('api-version')}, {}
        parts = path.strip('/').split('/')
        if method == 'GET' and len(parts) == 4 and parts[0] == 'twins' and parts[2] == 'modules':
            return self._get_twin(parts[1], parts[3])
        if method == 'POST' and len(parts) == 3 and parts[0] == 'devices' and parts[2] == 'applyConfigurationContent':
            return self._apply(parts[1], body)
        if parts[0] == 'configurations':
            if method == 'GET' and len(parts) == 1:
                with self.lock:
                    items = sorted(self.configurations.values(), key=lambda item: item['id'])
                top = int(query.get('top', '20'))
                return 200, copy.deepcopy(items[:top]), {}
            if len(parts) == 2:
                return self._configuration(method, parts[1], headers.get('If-Match'), body)
        return 404, {'Message': 'ErrorCode:NotFound;no such resource %s %s' % (method, path)}, {}

    def _get_twin(self, device_id, module_id):
        with self.lock:
            if device_id not in self.twins:
                return 404, {'Message': 'ErrorCode:DeviceNotFound;%s' % device_id}, {}
            twin = self.twins[device_id].get(module_id)
            if twin is None:
                return 404, {'Message': 'ErrorCode:ModuleNotFound;%s/%s' % (device_id, module_id)}, {}
            return 200, copy.deepcopy(twin), {}

    def _apply(self, device_id, body):
        with self.lock:
            if device_id not in self.twins:
                return 404, {'Message': 'ErrorCode:DeviceNotFound;%s' % device_id}, {}
            if '$edgeAgent' not in self.twins[device_id]:
                return 400, {'Message': 'ErrorCode:ArgumentInvalid;%s is not an IoT Edge device' % device_id}, {}
            if not isinstance(body, dict) or set(body) - set(['modulesContent', 'deviceContent', 'moduleContent']) \
                    or not isinstance(body.get('modulesContent'), dict):
                return 400, {'Message': 'ErrorCode:ArgumentInvalid;body must be a ConfigurationContent with modulesContent'}, {}
            content = body['modulesContent']
            for module_id in ('$edgeAgent', '$edgeHub'):
                if module_id not in content:
                    return 400, {'Message': 'ErrorCode:ArgumentInvalid;modulesContent must have %s' % module_id}, {}
            for module_id, module in content.items():
                if not isinstance(module, dict) or not isinstance(module.get('properties.desired'), dict):
                    return 400, {'Message': 'ErrorCode:ArgumentInvalid;%s needs properties.desired' % module_id}, {}
            for module_id, module in content.items():
                old = self.twins[device_id].get(module_id)
                version = old['version'] + 1 if old else 1
                self.twins[device_id][module_id] = self._twin(device_id, module_id, module['properties.desired'], version)
        return 204, None, {}

    def _configuration(self, method, configuration_id, if_match, body):
        with self.lock:
            held = self.configurations.get(configuration_id)
            if method == 'GET':
                if held is None:
                    return 404, {'Message': 'ErrorCode:ConfigurationNotFound;%s' % configuration_id}, {}
                return 200, copy.deepcopy(held), {}
            if method == 'DELETE':
                if held is None:
                    return 404, {'Message': 'ErrorCode:ConfigurationNotFound;%s' % configuration_id}, {}
                if if_match not in ('*', '"%s"' % held['etag'], held['etag']):
                    return 412, {'Message': 'ErrorCode:PreconditionFailed;etag mismatch'}, {}
                del self.configurations[configuration_id]
                return 204, None, {}
            if method != 'PUT':
                return 405, {'Message': 'ErrorCode:MethodNotAllowed'}, {}
            problem = self._check_configuration(configuration_id, body)
            if problem:
                return 400, {'Message': 'ErrorCode:ArgumentInvalid;%s' % problem}, {}
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            if held is None:
                if if_match:
                    return 412, {'Message': 'ErrorCode:PreconditionFailed;no configuration %s to update' % configuration_id}, {}
                stored = copy.deepcopy(body)
                stored.update(createdTimeUtc=now, lastUpdatedTimeUtc=now, etag=self._etag(),
                              systemMetrics={'queries': {}, 'results': {}})
                self.configurations[configuration_id] = stored
                return 201, copy.deepcopy(stored), {}
            if not if_match:
                return 409, {'Message': 'ErrorCode:ConfigurationAlreadyExists;%s' % configuration_id}, {}
            if if_match not in ('*', '"%s"' % held['etag'], held['etag']):
                return 412, {'Message': 'ErrorCode:PreconditionFailed;etag mismatch'}, {}
            if body.get('content') != held.get('content'):
                return 400, {'Message': 'ErrorCode:ArgumentInvalid;Configuration content cannot be updated'}, {}
            for field in ('targetCondition', 'priority', 'labels', 'metrics'):
                if field in body:
                    held[field] = copy.deepcopy(body[field])
            held.update(lastUpdatedTimeUtc=now, etag=self._etag())
            return 200, copy.deepcopy(held), {}

    @staticmethod
    def _etag():
        return base64.b64encode(uuid.uuid4().bytes[:6]).decode('ascii')

    @staticmethod
    def _check_configuration(configuration_id, body):
        if not isinstance(body, dict):
            return 'the body must be a Configuration'
        if body.get('id') != configuration_id or not CONFIGURATION_ID.match(configuration_id):
            return 'id %r must match the path and IoT Hub\'s id rule' % (body.get('id'),)
        known = set(['id', 'schemaVersion', 'labels', 'content', 'targetCondition', 'priority', 'metrics', 'etag',
                     'createdTimeUtc', 'lastUpdatedTimeUtc', 'systemMetrics'])
        if set(body) - known:
            return 'unknown Configuration fields %s' % sorted(set(body) - known)
        if not isinstance(body.get('schemaVersion'), str):
            return 'schemaVersion is required'
        if not isinstance(body.get('priority'), int) or body['priority'] < 0:
            return 'priority must be a non-negative integer'
        if not isinstance(body.get('targetCondition'), str):
            return 'targetCondition must be a string'
        if not isinstance(body.get('labels', {}), dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in body.get('labels', {}).items()):
            return 'labels must map strings to strings'
        content = body.get('content')
        if not isinstance(content, dict) or not isinstance(content.get('modulesContent'), dict):
            return 'content.modulesContent is required for an IoT Edge deployment'
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--device', action='append', default=[])
    parser.add_argument('--key-name', default='iothubowner')
    parser.add_argument('--key', default=None)
    args = parser.parse_args(argv)
    hub = IotHubStandin(key_name=args.key_name, key=args.key, devices=args.device)

    def stop(_signum, _frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, stop)
    hub.start()
    try:
        print(json.dumps({'host': hub.host, 'ca_file': hub.ca_file, 'connection_string': hub.connection_string,
                          'control': 'https://%s/_standin/' % hub.host}), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
