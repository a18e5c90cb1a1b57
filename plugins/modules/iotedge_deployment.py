#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: iotedge_deployment
short_description: Apply an IoT Edge deployment manifest through Azure IoT Hub, per device or at scale
version_added: 0.1.0
description:
  - Sends the manifest that M(edge_gpu.sharing.iotedge_manifest) renders to Azure IoT Hub, whose
    IoT Edge agents take their modules from it (an agent never reads a manifest file on the device).
  - O(mode=device) applies it to one device, as C(az iot edge set-modules) does. The device's
    C($edgeAgent) and C($edgeHub) module twins (and the twins of the other modules the manifest
    sets desired properties for) are read first; when their desired properties already equal the
    manifest's, nothing is sent (C(changed=false)).
  - O(mode=layered) keeps an automatic deployment (an IoT Hub configuration) with a
    O(target_condition) on device twin tags, a O(priority) and O(labels), for fleets that share a
    plan. Configuration content cannot change, so the hub holds the deployment as
    C(<deployment_id>-<8 hex digits of the content's hash>); new content creates a new version and
    the old ones are deleted once the hub accepted it. Only O(target_condition), O(priority) and
    O(labels) are changed in place. The manifest is complete (C($edgeAgent) with its runtime and
    system modules), so IoT Hub treats it as a base deployment; among the deployments that target
    a device the one with the highest priority wins. Microsoft documents that a device targeted by
    automatic deployments no longer takes per-device manifests.
  - Talks to IoT Hub's service REST API (api-version C(2021-04-12)) over HTTPS with a SAS token
    made from the connection string's shared access key; needs no Azure SDK. Requests that get
    HTTP 429 or 5xx or no connection are retried with exponential back-off, honouring C(Retry-After).
  - Runs where it is called; in a play over devices delegate it to the controller (C(delegate_to) V(localhost)).
author:
  - Edge GPU maintainers (@edge-gpu)
attributes:
  check_mode:
    support: full
    description: Reads the hub and reports what would change; sends no write request.
  diff_mode:
    support: full
    description: The desired properties (device) or deployments (layered) before and after, as JSON, registry passwords masked.
options:
  mode:
    description: Apply to one device, or keep an automatic (at-scale) deployment.
    type: str
    choices: [device, layered]
    required: true
  state:
    description:
      - V(present) applies the manifest. V(absent) deletes every version of the O(mode=layered)
        deployment; O(mode=device) refuses it (a device always runs some deployment; apply a
        manifest without the modules to remove them).
    type: str
    choices: [present, absent]
    default: present
  connection_string:
    description:
      - An IoT Hub connection string of a shared access policy with registry read/write and
        service connect rights (for example C(iothubowner)),
        C(HostName=<hub>;SharedAccessKeyName=<policy>;SharedAccessKey=<key>); C(HostName) may carry
        a C(:port). C(SharedAccessSignature=<token>) may stand instead of the key name and key.
      - Defaults to the environment variable E(IOTHUB_CONNECTION_STRING) of the process the module runs in.
      - Not logged; the key, the token and the signatures made from it never appear in results or messages.
    type: str
  sas_token:
    description:
      - A ready SAS token (C(SharedAccessSignature sr=...&sig=...&se=...&skn=...)) instead of a
        connection string; give the hub's host name in O(hub). Takes precedence over O(connection_string).
      - Not logged.
    type: str
  hub:
    description:
      - The hub's host name (C(myhub.azure-devices.net), optionally with C(:port)); required with
        O(sas_token). With a connection string it must equal its C(HostName).
    type: str
  device_id:
    description: The IoT Edge device's id (O(mode=device)).
    type: str
  deployment_id:
    description:
      - The deployment's name (O(mode=layered)), lowercase letters, digits and the characters
        C(-), C(+), C(%), C(_), C(*), C(!) and the apostrophe, at most 119 characters (the hub's
        configuration id is this, a C(-) and 8 hex digits).
    type: str
  target_condition:
    description:
      - Which devices the deployment targets (O(mode=layered), required with O(state=present)),
        a condition on twin tags or the device id, for example C(tags.gpu='t4' AND tags.site='plant1').
    type: str
  priority:
    description: The deployment's priority (O(mode=layered)), 0 or more; the highest wins on a device.
    type: int
    default: 0
  labels:
    description: Labels of the deployment (O(mode=layered)), name to value, both strings.
    type: dict
  manifest:
    description:
      - The deployment manifest, a C(modulesContent) with C($edgeAgent), C($edgeHub) and other modules,
        each holding C(properties.desired), as M(edge_gpu.sharing.iotedge_manifest) returns it in C(manifest).
      - Registry credentials that Ansible masked in that result must be given again in
        O(registry_credentials). Ansible also masks the registry address or user name where it
        appears inside another string (an image C(myacr.azurecr.io/app) comes back as
        C(********/app)); a manifest holding any masked value is refused, so where images name the
        registry give O(src), the file M(edge_gpu.sharing.iotedge_manifest) wrote, instead.
    type: dict
  src:
    description: A manifest file (JSON) on the host the module runs on, instead of O(manifest).
    type: path
  registry_credentials:
    description:
      - Container registry credentials, name to C(address), C(username) and C(password) (as
        M(edge_gpu.sharing.iotedge_manifest) takes them), put into the manifest's
        C($edgeAgent) C(runtime.settings.registryCredentials) before it is compared and applied.
      - Not logged.
    type: dict
  ca_path:
    description: A PEM file of extra CA certificates to trust for the hub's TLS certificate.
    type: path
  validate_certs:
    description: Verify the hub's TLS certificate. Turn off only for a test hub.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each answer from the hub.
    type: int
    default: 30
  retries:
    description: How many times a request is tried again after HTTP 429, 5xx or a lost connection.
    type: int
    default: 4
notes:
  - Microsoft's REST reference for the calls made (api-version 2021-04-12)
    U(https://learn.microsoft.com/rest/api/iothub/service/configuration).
  - The SAS token made from the key is valid for one hour and is never returned.
seealso:
  - module: edge_gpu.sharing.iotedge_manifest
  - name: Understand IoT Edge automatic deployments for single devices or at scale
    description: Microsoft's description of per-device, automatic and layered deployments.
    link: https://learn.microsoft.com/azure/iot-edge/module-deployment-monitoring
'''

EXAMPLES = r'''
- name: Render the manifest for this device
  edge_gpu.sharing.iotedge_manifest:
    gpus: "{{ node.gpu_info.gpus }}"
    workloads: "{{ workloads }}"
    registry_credentials: "{{ registries }}"
  register: planned
  delegate_to: localhost

- name: Apply it to this device through IoT Hub (connection string from IOTHUB_CONNECTION_STRING)
  edge_gpu.sharing.iotedge_deployment:
    mode: device
    device_id: "{{ inventory_hostname }}"
    manifest: "{{ planned.manifest }}"
    registry_credentials: "{{ registries }}"
  delegate_to: localhost

- name: One deployment for every T4 device of plant 1
  edge_gpu.sharing.iotedge_deployment:
    mode: layered
    connection_string: "{{ vault_iothub_connection_string }}"
    deployment_id: gpu-sharing-t4
    target_condition: "tags.gpu='t4' AND tags.site='plant1'"
    priority: 10
    labels:
      owner: edge-gpu
    src: /srv/iotedge/t4.deployment.json
  delegate_to: localhost
  run_once: true

- name: Remove that deployment (every version)
  edge_gpu.sharing.iotedge_deployment:
    mode: layered
    deployment_id: gpu-sharing-t4
    state: absent
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
error_kind:
  description:
    - On failure, what kind of failure it was (the same key in every module of the collection).
      V(invalid_option) for a refused option, V(manifest) for a manifest that cannot be sent,
      V(iothub) when the hub refused a request or could not be reached (the message names the hub,
      the device or deployment, the HTTP status and the hub's message), V(file) when O(src) cannot be read.
  returned: failure
  type: str
  sample: iothub
device_id:
  description: The device (O(mode=device)).
  returned: when O(mode=device)
  type: str
modules_changed:
  description: The modules whose desired properties differed from the manifest (O(mode=device)).
  returned: when O(mode=device)
  type: list
  elements: str
  sample: ['$edgeAgent']
deployment_id:
  description: The configuration id the hub holds for the deployment (O(mode=layered)); null after O(state=absent).
  returned: when O(mode=layered)
  type: str
  sample: gpu-sharing-t4-1f2e3d4c
created:
  description: The configuration id created (or that would be, in check mode), else null.
  returned: when O(mode=layered)
  type: str
updated:
  description: The configuration id whose target condition, priority or labels were changed in place, else null.
  returned: when O(mode=layered)
  type: str
deleted:
  description: The configuration ids deleted (older versions, or every version with O(state=absent)).
  returned: when O(mode=layered)
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.edge_gpu.sharing.plugins.module_utils import iothub, units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import FileError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.runner import run_module


def read_file(path):
    units.absolute_path(path, 'src')
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8')
    except (IOError, OSError) as exc:
        raise FileError('src %s cannot be read: %s' % (path, exc.strerror or exc))
    except UnicodeDecodeError:
        raise FileError('src %s is not UTF-8 text' % path)


def work(module):
    params = module.params
    timeout = units.parse_timeout(params['timeout'], 'timeout')
    retries = units.whole_number(params['retries'], 'retries', 0, 10)
    if params['ca_path']:
        units.absolute_path(params['ca_path'], 'ca_path')

    def hub_for(credentials):
        module.no_log_values.update(credentials.secrets())
        transport = iothub.urls_transport(validate_certs=params['validate_certs'], ca_path=params['ca_path'])
        return iothub.Hub(credentials, timeout=timeout, retries=retries, transport=transport,
                          on_secret=module.no_log_values.update)

    return iothub.deploy(params, hub_for, read_file, check_mode=module.check_mode, want_diff=module._diff)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type='str', choices=['device', 'layered'], required=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            connection_string=dict(type='str', no_log=True, fallback=(env_fallback, ['IOTHUB_CONNECTION_STRING'])),
            sas_token=dict(type='str', no_log=True),
            hub=dict(type='str'),
            device_id=dict(type='str'),
            deployment_id=dict(type='str'),
            target_condition=dict(type='str'),
            priority=dict(type='int', default=0),
            labels=dict(type='dict'),
            manifest=dict(type='dict'),
            src=dict(type='path'),
            registry_credentials=dict(type='dict', no_log=True),
            ca_path=dict(type='path'),
            validate_certs=dict(type='bool', default=True),
            timeout=dict(type='int', default=30),
            retries=dict(type='int', default=4),
        ),
        mutually_exclusive=[('manifest', 'src')],
        required_if=[('mode', 'device', ('device_id',)), ('mode', 'layered', ('deployment_id',))],
        supports_check_mode=True,
    )
    run_module(module, work)


if __name__ == '__main__':
    main()
