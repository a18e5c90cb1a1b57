# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Azure IoT Hub's service REST API for IoT Edge deployments, without an SDK.

Connection strings and SAS tokens, requests with retries and back-off, and what "the hub already
holds this deployment" means (one place for the module and its tests). Only ``Hub``'s default
transport imports Ansible (``ansible.module_utils.urls``), so the rest is plain Python.

Microsoft's REST reference, api-version 2021-04-12 (the newest general-availability version of the
service API that has every call used here):
  https://learn.microsoft.com/rest/api/iothub/service/configuration/apply-on-edge-device
    POST /devices/{id}/applyConfigurationContent  body ``{"modulesContent": {...}}`` -> 204
  https://learn.microsoft.com/rest/api/iothub/service/modules/get-twin
    GET /twins/{id}/modules/{mid}  -> the module twin, ``properties.desired`` with ``$metadata``, ``$version``
  https://learn.microsoft.com/rest/api/iothub/service/configuration/get-configurations
    GET /configurations?top=N  -> list of configurations
  https://learn.microsoft.com/rest/api/iothub/service/configuration/create-or-update
    PUT /configurations/{id}, ``If-Match`` when updating; the body is a Configuration: ``id``,
    ``schemaVersion``, ``labels``, ``content`` (``modulesContent``), ``targetCondition``,
    ``priority``, ``metrics``, ``etag``. "Configuration identifier and Content cannot be updated."
  https://learn.microsoft.com/rest/api/iothub/service/configuration/delete
    DELETE /configurations/{id}, ``If-Match``
SAS tokens as Microsoft documents them:
  https://learn.microsoft.com/azure/iot-hub/authenticate-authorize-sas
Deployments at scale (a full manifest in a configuration is an automatic deployment; per-device
and automatic deployments cannot be combined on one device):
  https://learn.microsoft.com/azure/iot-edge/module-deployment-monitoring
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import copy
import hashlib
import hmac
import json
import re
import time

try:
    from urllib.parse import quote, quote_plus, unquote_plus, urlencode
except ImportError:  # Python 2 (never used by this collection, but keeps the sanity import test quiet)
    from urllib import quote, quote_plus, unquote_plus, urlencode  # type: ignore

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption, IotHubError, ManifestError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import iotedge
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests.serialize import short_hash

API_VERSION = '2021-04-12'
TOKEN_LIFETIME = 3600
MASK = '********'
# What Ansible leaves in a value it masked (a no_log option echoed in a result, or shown in output).
NO_LOG_MARKERS = ('VALUE_SPECIFIED_IN_NO_LOG_PARAMETER', MASK)
# IoT Hub configuration ids: lowercase letters, digits and - + % _ * ! ', at most 128 characters.
CONFIGURATION_ID_RE = re.compile(r"^[a-z0-9\-+%_*!']+$")
MAX_CONFIGURATION_ID = 128
HASH_LENGTH = 8
MAX_DEPLOYMENT_ID = MAX_CONFIGURATION_ID - HASH_LENGTH - 1
CONFIGURATION_SCHEMA_VERSION = '1.0'
# How many configurations one listing asks for; the hub lowers it to its own maximum.
LIST_TOP = 1000
# Statuses worth another try: throttling and the hub's own failures.
RETRY_AFTER_MAX = 60.0
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
TWIN_METADATA = ('$metadata', '$version')
SYSTEM_MODULES = ('$edgeAgent', '$edgeHub')


class Credentials(object):
    """Where the hub is and how to sign requests: a shared access key, or a ready SAS token."""

    def __init__(self, host, key_name=None, key=None, token=None):
        self.host = host
        self.key_name = key_name
        self.key = key
        self.token = token

    def authorization(self, now):
        """The ``Authorization`` header value for a request made at ``now``."""
        if self.token:
            return self.token
        return sas_token(self.host, self.key, self.key_name, int(now) + TOKEN_LIFETIME)

    def secrets(self):
        """Values that must never be shown (the module adds them to its no_log values)."""
        return [value for value in (self.key, self.token) if value]

    def who(self):
        if self.key_name:
            return "key name '%s'" % self.key_name
        match = re.search(r'(?:^|[ &])skn=([^&]*)', self.token or '')
        return "SAS token for key name '%s'" % match.group(1) if match else 'SAS token'


_HOST_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$')


def check_host(host, option):
    """A host name with an optional ``:port``, as a connection string's HostName."""
    if not isinstance(host, str) or not _HOST_RE.match(host) or (
            ':' in host and not 0 < int(host.rsplit(':', 1)[1]) < 65536):
        raise InvalidOption('%s: %r is not a host name (with an optional :port)' % (option, host))
    return host


def parse_connection_string(text, option='connection_string'):
    """``HostName=...;SharedAccessKeyName=...;SharedAccessKey=...`` (or ``SharedAccessSignature=``
    instead of the key name and key). Errors name the missing or bad field, never the key."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidOption('%s is empty' % option)
    fields = {}
    for part in text.strip().strip(';').split(';'):
        name, sep, value = part.partition('=')
        name = name.strip()
        if not sep or not name:
            raise InvalidOption('%s: a part is not Name=value (the connection string is not shown)' % option)
        if name in fields:
            raise InvalidOption('%s: %s is given twice' % (option, name))
        fields[name] = value.strip()
    known = ('HostName', 'SharedAccessKeyName', 'SharedAccessKey', 'SharedAccessSignature', 'DeviceId', 'ModuleId')
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise InvalidOption('%s: unknown field(s) %s' % (option, ', '.join(unknown)))
    if 'DeviceId' in fields or 'ModuleId' in fields:
        raise InvalidOption('%s is a device or module connection string (DeviceId/ModuleId); give a hub '
                            'connection string of a shared access policy (for example iothubowner)' % option)
    if not fields.get('HostName'):
        raise InvalidOption('%s has no HostName' % option)
    host = check_host(fields['HostName'], option + ' HostName')
    if fields.get('SharedAccessSignature'):
        if 'SharedAccessKey' in fields:
            raise InvalidOption('%s has both SharedAccessKey and SharedAccessSignature; give one' % option)
        return Credentials(host, token=check_sas_token(fields['SharedAccessSignature'], option + ' SharedAccessSignature'))
    if not fields.get('SharedAccessKeyName'):
        raise InvalidOption('%s has no SharedAccessKeyName' % option)
    if not fields.get('SharedAccessKey'):
        raise InvalidOption('%s has no SharedAccessKey' % option)
    try:
        decoded = base64.b64decode(fields['SharedAccessKey'], validate=True)
    except (binascii.Error, ValueError):
        decoded = b''
    if not decoded:
        raise InvalidOption('%s: SharedAccessKey is not base64 (the key is not shown)' % option)
    return Credentials(host, key_name=fields['SharedAccessKeyName'], key=fields['SharedAccessKey'])


def check_sas_token(token, option):
    """A ``SharedAccessSignature sr=...&sig=...&se=...[&skn=...]`` token (shape only)."""
    if not isinstance(token, str) or not token.startswith('SharedAccessSignature '):
        raise InvalidOption('%s must start with "SharedAccessSignature " (the token is not shown)' % option)
    fields = dict(part.partition('=')[::2] for part in token[len('SharedAccessSignature '):].split('&'))
    missing = [name for name in ('sr', 'sig', 'se') if not fields.get(name)]
    if missing:
        raise InvalidOption('%s has no %s (the token is not shown)' % (option, ', '.join(missing)))
    if not fields['se'].isdigit():
        raise InvalidOption('%s: se (the expiry) is not a number of seconds' % option)
    return token


def sas_token(resource_uri, key, key_name, expiry):
    """A SAS token as Microsoft documents it: HMAC-SHA256 with the base64-decoded key over the
    URL-encoded resource URI, a newline and the expiry (seconds since the epoch)."""
    encoded_uri = quote_plus(resource_uri.lower())
    message = (encoded_uri + '\n' + str(int(expiry))).encode('utf-8')
    signature = base64.b64encode(hmac.new(base64.b64decode(key), message, hashlib.sha256).digest()).decode('ascii')
    token = 'SharedAccessSignature ' + urlencode([('sr', resource_uri.lower()), ('sig', signature),
                                                  ('se', str(int(expiry)))])
    if key_name:
        token += '&' + urlencode([('skn', key_name)])
    return token


def token_expiry(token):
    """The ``se`` of a token (seconds since the epoch), or None."""
    match = re.search(r'(?:^|[ &])se=([0-9]+)(?:&|$)', token or '')
    return int(match.group(1)) if match else None


def token_signature(token):
    """The ``sig`` of a token, raw and URL-encoded (both must stay out of any output)."""
    match = re.search(r'(?:^|[ &])sig=([^&]*)', token or '')
    if not match:
        return []
    from_url = match.group(1)
    return [from_url, unquote_plus(from_url)]


# ---------------------------------------------------------------------------------------------
# Requests


class TransportError(Exception):
    """The request did not get an HTTP answer; ``retry`` says whether trying again may help."""

    def __init__(self, reason, retry=True):
        super(TransportError, self).__init__(reason)
        self.reason = reason
        self.retry = retry


def urls_transport(validate_certs=True, ca_path=None):
    """Send with ``ansible.module_utils.urls`` (TLS verified unless ``validate_certs`` is false)."""
    import socket
    import ssl
    from ansible.module_utils.urls import open_url
    from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

    def untrusted(reason):
        return isinstance(reason, getattr(ssl, 'SSLCertVerificationError', ssl.CertificateError)) or \
            'CERTIFICATE_VERIFY_FAILED' in str(reason)

    def send(method, url, body, headers, timeout):
        try:
            response = open_url(url, data=body, headers=headers, method=method, timeout=timeout,
                                validate_certs=validate_certs, ca_path=ca_path, follow_redirects='none',
                                use_proxy=True)
            return response.getcode(), dict(response.headers.items()), response.read()
        except HTTPError as exc:
            try:
                data = exc.read()
            except Exception:  # pylint: disable=broad-except
                data = b''
            return exc.code, dict(exc.headers.items()) if exc.headers else {}, data
        except URLError as exc:
            reason = exc.reason
            if untrusted(reason):
                raise TransportError('TLS certificate not trusted (%s); give ca_path, or validate_certs: false '
                                     'only for a test hub' % (reason,), retry=False)
            if isinstance(reason, (socket.timeout, TimeoutError)) or 'timed out' in str(reason):
                raise TransportError('no answer within %s seconds' % timeout)
            raise TransportError('cannot connect: %s' % (reason,))
        except (socket.timeout, TimeoutError):
            raise TransportError('no answer within %s seconds' % timeout)
        except ssl.SSLError as exc:
            # A certificate that is not trusted stays so; a handshake cut short may not.
            raise TransportError('TLS failed: %s' % exc, retry=not untrusted(exc))
        except (OSError, ValueError) as exc:  # ConnectionResetError, http.client errors are OSError/ValueError kin
            raise TransportError('connection failed: %s' % exc)
        except Exception as exc:  # pylint: disable=broad-except
            # http.client.RemoteDisconnected / IncompleteRead and the like
            raise TransportError('connection failed: %s: %s' % (type(exc).__name__, exc))
    return send


def retry_delay(attempt, headers):
    """Seconds to wait before try ``attempt + 1``: the hub's ``Retry-After`` (capped) when it
    gives whole seconds, else an exponential back-off (1, 2, 4 ... capped)."""
    for name, value in (headers or {}).items():
        if name.lower() == 'retry-after':
            text = str(value).strip()
            if re.match(r'^[0-9]+(\.[0-9]+)?$', text):
                return min(float(text), RETRY_AFTER_MAX)
    return min(BACKOFF_FIRST * (2 ** attempt), BACKOFF_MAX)


def hub_message(data):
    """The hub's own message from an error body (``Message`` or ``message``), else the text."""
    text = data.decode('utf-8', 'replace') if isinstance(data, bytes) else (data or '')
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(parsed, dict):
        for name in ('Message', 'message', 'ExceptionMessage'):
            if isinstance(parsed.get(name), str):
                return parsed[name]
    return text.strip()[:500]


def pause(seconds):
    """Wait between tries (a function of its own, so tests can replace it)."""
    time.sleep(seconds)


def now():
    return time.time()


class Hub(object):
    """One IoT Hub: requests signed, retried and turned into ``IotHubError`` on failure."""

    def __init__(self, credentials, timeout=30, retries=4, transport=None, sleep=None, clock=None,
                 on_secret=None):
        self.credentials = credentials
        self.on_secret = on_secret
        self.timeout = timeout
        self.retries = retries
        self.transport = transport
        self.sleep = sleep or pause
        self.clock = clock or now
        self.tokens = []

    def _scrub(self, text):
        for secret in self.credentials.secrets() + [s for token in self.tokens for s in [token] + token_signature(token)]:
            if secret:
                text = text.replace(secret, MASK)
        return text

    def request(self, method, path, what, body=None, headers=None, query=None, missing_ok=False):
        """Send; return ``(status, parsed body or None, headers)``. A 404 returns ``(404, None, {})``
        when ``missing_ok``; every other failure raises ``IotHubError`` naming ``what``."""
        params = [('api-version', API_VERSION)] + list(query or [])
        url = 'https://%s%s?%s' % (self.credentials.host, path, urlencode(params))
        data = None if body is None else json.dumps(body, sort_keys=True).encode('utf-8')
        attempt = 0
        while True:
            token = self.credentials.authorization(self.clock())
            if token not in self.tokens:
                self.tokens.append(token)
                if self.on_secret:
                    self.on_secret([token] + token_signature(token))
            send_headers = {'Authorization': token, 'Accept': 'application/json'}
            if data is not None:
                send_headers['Content-Type'] = 'application/json; charset=utf-8'
            send_headers.update(headers or {})
            try:
                status, reply_headers, reply = self.transport(method, url, data, send_headers, self.timeout)
            except TransportError as exc:
                if exc.retry and attempt < self.retries:
                    self.sleep(retry_delay(attempt, {}))
                    attempt += 1
                    continue
                tries = ' after %d tries' % (attempt + 1) if attempt else ''
                raise IotHubError('IoT Hub %s: %s: %s%s' % (self.credentials.host, what, self._scrub(exc.reason), tries))
            if status == 429 or status >= 500:
                if attempt < self.retries:
                    self.sleep(retry_delay(attempt, reply_headers))
                    attempt += 1
                    continue
            if 200 <= status < 300:
                if not reply:
                    return status, None, reply_headers
                try:
                    return status, json.loads(reply.decode('utf-8')), reply_headers
                except ValueError:
                    raise IotHubError('IoT Hub %s: %s: HTTP %d with a body that is not JSON' % (self.credentials.host, what, status))
            if status == 404 and missing_ok:
                return status, None, reply_headers
            message = 'IoT Hub %s: %s failed: HTTP %d: %s' % (
                self.credentials.host, what, status, self._scrub(hub_message(reply)) or '(no message)')
            if status == 401:
                message += ' (%s refused: check its SharedAccessKeyName and SharedAccessKey, its rights ' \
                           '(registry read/write, service connect) and the clock)' % self.credentials.who()
            elif status == 429 or status >= 500:
                message += ' (gave up after %d tries)' % (attempt + 1)
            error = IotHubError(message)
            error.status = status
            raise error

    # The calls the module makes.

    def module_desired(self, device_id, module_id):
        """A module twin's desired properties without the twin's metadata, or None if it has none."""
        path = '/twins/%s/modules/%s' % (quote(device_id, safe=''), quote(module_id, safe=''))
        status, twin, _headers = self.request('GET', path, "read module twin %s of device '%s'" % (module_id, device_id),
                                              missing_ok=module_id not in SYSTEM_MODULES)
        if status == 404 or not twin:
            return None
        return strip_twin_metadata(((twin.get('properties') or {}).get('desired')) or {})

    def apply_content(self, device_id, modules_content):
        path = '/devices/%s/applyConfigurationContent' % quote(device_id, safe='')
        self.request('POST', path, "apply the deployment manifest to device '%s'" % device_id,
                     body={'modulesContent': modules_content})

    def configurations(self, deployment_id):
        _status, items, _headers = self.request('GET', '/configurations',
                                                "list configurations to find deployment '%s'" % deployment_id,
                                                query=[('top', str(LIST_TOP))])
        return items or []

    def configuration(self, configuration_id):
        _status, item, _headers = self.request('GET', '/configurations/%s' % quote(configuration_id, safe=''),
                                               "read deployment '%s'" % configuration_id, missing_ok=True)
        return item

    def put_configuration(self, body, etag=None):
        headers = {'If-Match': '"%s"' % etag.strip('"')} if etag else None
        _status, item, _headers = self.request('PUT', '/configurations/%s' % quote(body['id'], safe=''),
                                               "%s deployment '%s'" % ('update' if etag else 'create', body['id']),
                                               body=body, headers=headers)
        return item

    def delete_configuration(self, configuration_id, etag=None):
        headers = {'If-Match': '"%s"' % etag.strip('"') if etag else '*'}
        self.request('DELETE', '/configurations/%s' % quote(configuration_id, safe=''),
                     "delete deployment '%s'" % configuration_id, headers=headers, missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Manifests and what "already applied" means


def strip_twin_metadata(value):
    """Desired properties as they were set: the twin's ``$metadata`` and ``$version`` removed."""
    if isinstance(value, dict):
        return dict((key, strip_twin_metadata(item)) for key, item in value.items() if key not in TWIN_METADATA)
    if isinstance(value, list):
        return [strip_twin_metadata(item) for item in value]
    return value


def _find_markers(value, path):
    """The dotted path of the first string holding a no_log mask, or None."""
    if isinstance(value, dict):
        for key, item in sorted(value.items()):
            found = _find_markers(item, path + [str(key)])
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_markers(item, path + [str(index)])
            if found:
                return found
    elif isinstance(value, str) and any(marker in value for marker in NO_LOG_MARKERS):
        return '.'.join(path)
    return None


def modules_content(manifest, registry_credentials=None, option='manifest'):
    """The manifest's ``modulesContent`` (a copy), checked, with ``registry_credentials`` put in.

    ``manifest`` is what ``iotedge_manifest`` returns: ``{"modulesContent": {"$edgeAgent":
    {"properties.desired": ...}, "$edgeHub": {...}, ...}}``. Registry credentials that Ansible
    masked on the way (``********``) must be given again in ``registry_credentials``.
    """
    if not isinstance(manifest, dict) or not isinstance(manifest.get('modulesContent'), dict):
        raise ManifestError('%s must be a deployment manifest with modulesContent (as iotedge_manifest returns it)' % option)
    extra = sorted(set(manifest) - set(['modulesContent']))
    if extra:
        raise ManifestError('%s has keys other than modulesContent: %s' % (option, ', '.join(extra)))
    content = copy.deepcopy(manifest['modulesContent'])
    for module_id in SYSTEM_MODULES:
        if module_id not in content:
            raise ManifestError('%s.modulesContent has no %s' % (option, module_id))
    for module_id, module in content.items():
        if not isinstance(module_id, str) or not module_id or '/' in module_id:
            raise ManifestError('%s.modulesContent: %r is not a module name' % (option, module_id))
        if not isinstance(module, dict) or list(module) != ['properties.desired'] or not isinstance(module['properties.desired'], dict):
            raise ManifestError('%s.modulesContent.%s must be {"properties.desired": {...}}' % (option, module_id))
    agent = content['$edgeAgent']['properties.desired']
    if not isinstance(agent.get('modules', {}), dict) or not isinstance(agent.get('runtime'), dict) \
            or not isinstance(agent.get('systemModules'), dict):
        raise ManifestError('%s: $edgeAgent properties.desired needs runtime, systemModules and modules' % option)
    if registry_credentials:
        iotedge.check_credentials(registry_credentials)
        settings = agent['runtime'].setdefault('settings', {})
        held = settings.setdefault('registryCredentials', {})
        for name, entry in sorted(registry_credentials.items()):
            held[name] = {'username': entry['username'], 'password': entry['password'], 'address': entry['address']}
    held = ((agent['runtime'].get('settings') or {}).get('registryCredentials')) or {}
    for name, entry in sorted(held.items()):
        for field in ('address', 'username', 'password'):
            value = (entry or {}).get(field) if isinstance(entry, dict) else None
            if isinstance(value, str) and any(marker in value for marker in NO_LOG_MARKERS):
                raise ManifestError(
                    "%s: registry credential '%s' has its %s masked by Ansible's no_log; give the real "
                    "credentials again in registry_credentials" % (option, name, field))
    # Ansible masks every no_log value wherever it appears in a result, also inside other strings:
    # a registry address in an image name comes back as ``********/detector:1``. Such a manifest
    # cannot be repaired here; sending it would make the devices pull images that do not exist.
    masked = _find_markers(content, [])
    if masked:
        raise ManifestError(
            "%s: %s holds a value masked by Ansible's no_log (a registry address or user name of "
            "registry_credentials inside an image name is masked too); give the manifest file that "
            "iotedge_manifest wrote (src) instead of its registered result" % (option, masked))
    return content


def masked_content(content):
    """A copy for ``--diff`` and results: registry passwords replaced with ``********``."""
    shown = copy.deepcopy(content)
    agent = (shown.get('$edgeAgent') or {}).get('properties.desired') or {}
    held = ((agent.get('runtime') or {}).get('settings') or {}).get('registryCredentials') or {}
    for entry in held.values():
        if isinstance(entry, dict) and 'password' in entry:
            entry['password'] = MASK
    return shown


def desired_by_module(content):
    return dict((module_id, module['properties.desired']) for module_id, module in content.items())


def device_differences(wanted, current):
    """Module ids whose desired properties differ; ``current`` maps ids to the twin's desired
    properties (metadata stripped) or None where the module has no twin yet."""
    return sorted(module_id for module_id, desired in wanted.items() if current.get(module_id) != desired)


def content_hash(content):
    """A short, stable hash of a deployment's content: the version part of its id."""
    return short_hash(content, HASH_LENGTH)


def versioned_id(deployment_id, content):
    return '%s-%s' % (deployment_id, content_hash(content))


def versions_of(deployment_id, configurations):
    """The hub's configurations that are versions of ``deployment_id`` (``<id>-<8 hex>``)."""
    pattern = re.compile('^%s-[0-9a-f]{%d}$' % (re.escape(deployment_id), HASH_LENGTH))
    return sorted((item for item in configurations if isinstance(item, dict) and pattern.match(item.get('id', ''))),
                  key=lambda item: item['id'])


def configuration_body(configuration_id, content, target_condition, priority, labels):
    """A Configuration as the REST reference names its fields (create-or-update)."""
    return {
        'id': configuration_id,
        'schemaVersion': CONFIGURATION_SCHEMA_VERSION,
        'labels': dict(labels or {}),
        'content': {'modulesContent': content},
        'targetCondition': target_condition,
        'priority': priority,
        'metrics': {'queries': {}},
    }


MUTABLE_FIELDS = ('targetCondition', 'priority', 'labels')


def mutable_fields(configuration):
    return {
        'targetCondition': configuration.get('targetCondition') or '',
        'priority': configuration.get('priority') or 0,
        'labels': dict(configuration.get('labels') or {}),
    }


# ---------------------------------------------------------------------------------------------
# Options


def check_deployment_id(value, option='deployment_id'):
    """What IoT Hub allows in a configuration id, leaving room for ``-<8 hex>`` of the version."""
    if not isinstance(value, str) or not CONFIGURATION_ID_RE.match(value):
        raise InvalidOption("%s %r may hold only lowercase letters, digits and - + %% _ * ! ' (IoT Hub's rule)"
                            % (option, value))
    if len(value) > MAX_DEPLOYMENT_ID:
        raise InvalidOption('%s is %d characters; at most %d (the hub holds it with -<%d hex digits> of its content)'
                            % (option, len(value), MAX_DEPLOYMENT_ID, HASH_LENGTH))
    return value


_DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$")


def check_device_id(value, option='device_id'):
    """IoT Hub device ids: up to 128 ASCII letters, digits and - . % _ * ? ! ( ) , : = @ $ '."""
    if not isinstance(value, str) or not _DEVICE_ID_RE.match(value):
        raise InvalidOption('%s %r is not an IoT Hub device id (up to 128 letters, digits and - . %% _ * ? ! ( ) , : = @ $ \')'
                            % (option, value))
    return value


_LABEL_RE = re.compile(r"^[A-Za-z0-9\-:.+%_#*?!(),=@;']{1,128}$")


def check_labels(labels, option='labels'):
    """Deployment labels: keys and values up to 128 characters of the set IoT Hub allows ($ reserved)."""
    for key, value in (labels or {}).items():
        for what, text in (('key', key), ('value', value)):
            if not isinstance(text, str) or not _LABEL_RE.match(text):
                raise InvalidOption("%s: %s %r is not allowed (up to 128 letters, digits and - : . + %% _ # * ? ! ( ) , = @ ; ')"
                                    % (option, what, text))
    return dict(labels or {})


# ---------------------------------------------------------------------------------------------
# The module's work: validate everything, read, compare, apply unless in check mode.


def credentials_from(params, clock=None):
    """``sas_token`` with ``hub`` when given, else the connection string (option or environment)."""
    if params.get('sas_token'):
        if not params.get('hub'):
            raise InvalidOption('sas_token needs hub (the hub host name, for example myhub.azure-devices.net)')
        credentials = Credentials(check_host(params['hub'], 'hub'), token=check_sas_token(params['sas_token'], 'sas_token'))
    elif not params.get('connection_string'):
        raise InvalidOption('connection_string is required (or the environment variable IOTHUB_CONNECTION_STRING, '
                            'or sas_token with hub)')
    else:
        credentials = parse_connection_string(params['connection_string'])
        if params.get('hub') and params['hub'].lower() != credentials.host.lower():
            raise InvalidOption('hub %r is not the connection string\'s HostName %r' % (params['hub'], credentials.host))
    expiry = token_expiry(credentials.token)
    if expiry is not None and expiry <= (clock or now)():
        raise InvalidOption('the SAS token (%s) expired at %s UTC; make a new one'
                            % ('sas_token' if params.get('sas_token') else 'connection_string SharedAccessSignature',
                               time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(expiry))))
    return credentials


def load_manifest(params, read_file):
    """The manifest option, or the JSON file ``src`` (``read_file(path)`` returns its text)."""
    if params.get('manifest') is not None:
        return params['manifest']
    text = read_file(params['src'])
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ManifestError('src %s is not JSON: %s' % (params['src'], exc))


def check_params(params):
    """Every rule that needs no request; returns the checked values."""
    mode, state = params['mode'], params['state']
    checked = {'mode': mode, 'state': state}
    if mode == 'device':
        if state == 'absent':
            raise InvalidOption("state: absent is not supported in mode: device (a device always runs some "
                                "deployment; remove modules by applying a manifest without them)")
        checked['device_id'] = check_device_id(params.get('device_id'))
        for name in ('deployment_id', 'target_condition', 'labels'):
            if params.get(name):
                raise InvalidOption('%s applies to mode: layered only' % name)
    else:
        if params.get('device_id'):
            raise InvalidOption('device_id applies to mode: device only; target devices with target_condition')
        checked['deployment_id'] = check_deployment_id(params.get('deployment_id'))
        checked['priority'] = params.get('priority') if params.get('priority') is not None else 0
        if isinstance(checked['priority'], bool) or not isinstance(checked['priority'], int) or checked['priority'] < 0:
            raise InvalidOption('priority must be a whole number of 0 or more, got %r' % (params.get('priority'),))
        checked['labels'] = check_labels(params.get('labels'))
        condition = params.get('target_condition')
        if state == 'present' and (not isinstance(condition, str) or not condition.strip()):
            raise InvalidOption("target_condition is required for mode: layered, state: present "
                                "(for example tags.gpu='t4')")
        checked['target_condition'] = condition.strip() if isinstance(condition, str) else None
    if state == 'present' and params.get('manifest') is None and not params.get('src'):
        raise InvalidOption('state: present needs manifest or src')
    return checked


def _json_text(value):
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + '\n'


def apply_device(hub, checked, content, check_mode, want_diff):
    wanted = desired_by_module(content)
    current = dict((module_id, hub.module_desired(checked['device_id'], module_id)) for module_id in sorted(wanted))
    differing = device_differences(wanted, current)
    if differing and not check_mode:
        hub.apply_content(checked['device_id'], content)
    result = {'changed': bool(differing), 'device_id': checked['device_id'], 'modules_changed': differing}
    if want_diff:
        before = dict((module_id, desired) for module_id, desired in current.items() if desired is not None)
        result['diff'] = {
            'before_header': 'device %s on %s' % (checked['device_id'], hub.credentials.host),
            'after_header': 'device %s on %s' % (checked['device_id'], hub.credentials.host),
            'before': _json_text(masked_content(dict((k, {'properties.desired': v}) for k, v in before.items()))),
            'after': _json_text(masked_content(dict((k, {'properties.desired': v}) for k, v in wanted.items()))),
        }
    return result


def _shown(configuration):
    shown = dict((field, configuration.get(field)) for field in ('id',) + MUTABLE_FIELDS)
    modules = ((configuration.get('content') or {}).get('modulesContent'))
    if modules is not None:
        shown['content'] = {'modulesContent': masked_content(modules)}
    return shown


def _put_once(hub, body, etag=None):
    """PUT a configuration. A try whose answer was lost (a timeout, a 5xx) may have been carried
    out, so the retry meets 409 (it exists) or 412 (its etag changed): when the hub now holds
    exactly what was sent (the id carries the content's hash), that is success."""
    try:
        return hub.put_configuration(body, etag=etag)
    except IotHubError as exc:
        if getattr(exc, 'status', None) not in (409, 412):
            raise
        held = hub.configuration(body['id'])
        if held is None or mutable_fields(held) != mutable_fields(body):
            raise
        return held


def apply_layered(hub, checked, content, check_mode, want_diff):
    ours = versions_of(checked['deployment_id'], hub.configurations(checked['deployment_id']))
    result = {'changed': False, 'deleted': [], 'created': None, 'updated': None}
    after = []
    if checked['state'] == 'present':
        wanted_id = versioned_id(checked['deployment_id'], content)
        body = configuration_body(wanted_id, content, checked['target_condition'], checked['priority'], checked['labels'])
        held = [item for item in ours if item['id'] == wanted_id]
        old = [item for item in ours if item['id'] != wanted_id]
        if not held:
            result['created'] = wanted_id
            if not check_mode:
                _put_once(hub, body)
        elif mutable_fields(held[0]) != mutable_fields(body):
            result['updated'] = wanted_id
            if not check_mode:
                body['etag'] = held[0].get('etag')
                _put_once(hub, body, etag=held[0].get('etag') or '*')
        # Old versions go only once the new one is accepted (a failed PUT raised above).
        for item in old:
            result['deleted'].append(item['id'])
            if not check_mode:
                hub.delete_configuration(item['id'], item.get('etag'))
        result['deployment_id'] = wanted_id
        after = [_shown(body)]
    else:
        for item in ours:
            result['deleted'].append(item['id'])
            if not check_mode:
                hub.delete_configuration(item['id'], item.get('etag'))
        result['deployment_id'] = None
    result['changed'] = bool(result['created'] or result['updated'] or result['deleted'])
    if want_diff:
        before = []
        for item in ours:
            if 'content' not in item:
                item = hub.configuration(item['id']) or item
            before.append(_shown(item))
        header = 'deployment %s on %s' % (checked['deployment_id'], hub.credentials.host)
        result['diff'] = {'before_header': header, 'after_header': header,
                          'before': _json_text(before), 'after': _json_text(after)}
    return result


def deploy(params, hub_for, read_file, check_mode=False, want_diff=False, clock=None):
    """The whole module: ``hub_for(credentials)`` makes the ``Hub``; nothing is requested before
    every option has been checked."""
    checked = check_params(params)
    credentials = credentials_from(params, clock or now)
    content = None
    if checked['state'] == 'present':
        content = modules_content(load_manifest(params, read_file), params.get('registry_credentials'),
                                  'manifest' if params.get('manifest') is not None else 'src')
    elif params.get('registry_credentials'):
        iotedge.check_credentials(params['registry_credentials'])
    hub = hub_for(credentials)
    if checked['mode'] == 'device':
        return apply_device(hub, checked, content, check_mode, want_diff)
    return apply_layered(hub, checked, content, check_mode, want_diff)
