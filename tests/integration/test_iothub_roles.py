# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The roles' IoT Hub step (gpu_workloads_iothub_apply, gpu_sharing_iothub_apply) against the
stand-in hub (iothub_standin.py), in one ansible-playbook run (playbooks/iothub_roles.yml):

- device mode (gpu_workloads) in check mode: the hub is read, nothing written;
- device mode: each device's $edgeAgent / $edgeHub desired properties in the hub equal the manifest
  the role left on the device, with the real registry password (masked in the output) and image
  names from the credentials' registry (whose address Ansible masks in registered results);
- the same again: nothing changed, no write request;
- layered mode (gpu_sharing): two hosts sharing gpu-fleet-a make one configuration with one PUT;
  two hosts sharing gpu-fleet-b with different workloads both fail before any request, each message
  naming both hosts; the connection string (environment for device mode, role variable for layered)
  never appears in the output;
- an apply mode on Kubernetes, layered without a deployment id, and an apply mode with review mode
  each fail the preflight, naming the variables, before the device or the hub is touched.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

import pytest

from harness import require_nvidia_userland  # pylint: disable=import-error
from iothub_standin import IotHubStandin  # pylint: disable=import-error

DEVICE_HOSTS = ['edge-01', 'edge-02']
LAYERED_HOSTS = ['edge-03', 'edge-04', 'edge-05', 'edge-06']
REFUSED_HOSTS = ['edge-07', 'edge-08', 'edge-09']
PASSWORD = 'Pw-"q\\uote\tTab-\u00fcml-hub-never-shown'
CREDENTIALS = {'acr': {'address': 'myacr.azurecr.io', 'username': 'puller', 'password': PASSWORD}}
WRITES = ('PUT', 'POST', 'DELETE', 'PATCH')


@pytest.fixture
def hub(tmp_path):
    with IotHubStandin(key_name='edge-gpu-deploy', devices=DEVICE_HOSTS) as standin:
        # The CA in the test's own directory: one run lost the stand-in's temporary copy midway
        # ("No such file or directory" on every later request; the cause was not found).
        ca_file = str(tmp_path / 'hub-ca.pem')
        shutil.copyfile(standin.ca_file, ca_file)
        standin.ca_file = ca_file
        yield standin


def phase_requests(hub, run):
    """``{phase: [requests]}``, split where the playbook saved the hub's request list between phases."""
    start, phases = 0, {}
    for phase in ('check', 'converge', 'rerun', 'layered', 'refused'):
        with open(os.path.join(run.results_dir, 'requests-%s.json' % phase)) as handle:
            end = len(json.load(handle))
        phases[phase] = hub.requests[start:end]
        start = end
    assert start == len(hub.requests)
    return phases


def saved(run, name):
    path = os.path.join(run.results_dir, name + '.json')
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def test_roles_apply_the_planned_manifest_through_iot_hub(fleet_hosts, playbook, sim_root, hub, monkeypatch):
    require_nvidia_userland()
    monkeypatch.setenv('IOTHUB_CONNECTION_STRING', hub.connection_string)
    run = playbook('iothub_roles.yml', args=['-v', '--diff'], extra_vars={
        'hub_control': 'https://' + hub.host, 'hub_ca': hub.ca_file, 'registry_credentials': CREDENTIALS,
        'device_hosts': ','.join(DEVICE_HOSTS), 'layered_hosts': ','.join(LAYERED_HOSTS),
        'refused_hosts': ','.join(REFUSED_HOSTS),
        'layered_connection_string': hub.connection_string})
    assert run.rc == 0, run.output[-5000:]
    phases = phase_requests(hub, run)

    # Secrets: neither the registry password (raw or JSON-escaped) nor the hub's key in the output.
    for secret in (PASSWORD, json.dumps(PASSWORD)[1:-1], hub.key):
        assert secret not in run.output

    # 1. Check mode read both devices' twins, wrote nothing, and said it would change.
    assert phases['check'] and not [item for item in phases['check'] if item['method'] in WRITES]
    assert set(item['path'].split('/')[2] for item in phases['check']) == set(DEVICE_HOSTS)
    for host in DEVICE_HOSTS:
        assert saved(run, host + '-device-mode-in-check-mode')['iothub']['changed'] is True, host

    # 2. The converge wrote each device's manifest, and the hub holds what the device file holds.
    written = [item for item in phases['converge'] if item['method'] in WRITES]
    assert sorted(item['path'] for item in written) == sorted(
        '/devices/%s/applyConfigurationContent' % host for host in DEVICE_HOSTS)
    for host in DEVICE_HOSTS:
        assert saved(run, host + '-device-mode')['iothub']['changed'] is True, host
        with open(os.path.join(sim_root, host, 'deployment.json')) as handle:
            on_device = json.load(handle)['modulesContent']
        for module in ('$edgeAgent', '$edgeHub'):
            assert hub.module_twin(host, module) == on_device[module]['properties.desired'], (host, module)
        registry = hub.module_twin(host, '$edgeAgent')['runtime']['settings']['registryCredentials']['acr']
        assert registry == CREDENTIALS['acr'], host  # the real password, not Ansible's mask
        modules = hub.module_twin(host, '$edgeAgent')['modules']
        assert sorted(modules) == ['nbody1', 'nbody2'], host
        # The image names hold the registry address, which Ansible masks in every registered result
        # (it is a value of the no_log registry_credentials): the hub has them unmasked.
        assert set(module['settings']['image'] for module in modules.values()) == {'myacr.azurecr.io/cuda-sample:nbody'}

    # 3. The re-run read the twins again and changed nothing, on the device or in the hub.
    assert phases['rerun'] and not [item for item in phases['rerun'] if item['method'] in WRITES]
    for host in DEVICE_HOSTS:
        result = saved(run, host + '-device-mode-again')
        assert result['written']['changed'] is False and result['iothub']['changed'] is False, (host, result)

    # 4. Layered: gpu-fleet-a once (one configuration, one PUT); gpu-fleet-b's hosts differ, so
    # both failed before any request, each naming both; the others did not fail.
    first, second = LAYERED_HOSTS[:2], LAYERED_HOSTS[2:]
    written = [item for item in phases['layered'] if item['method'] in WRITES]
    assert [item['method'] for item in written] == ['PUT'], written
    assert written[0]['path'].startswith('/configurations/gpu-fleet-a')
    assert not [item for item in phases['layered'] if 'gpu-fleet-b' in item['path']]
    # Applied by one host only: a second host's call would have listed the configurations again.
    assert [item['path'] for item in phases['layered'] if item['method'] == 'GET'] == ['/configurations']
    configurations = list(hub.configurations.values())
    assert len(configurations) == 1 and configurations[0]['id'].startswith('gpu-fleet-a'), configurations
    configuration = configurations[0]
    assert configuration['targetCondition'] == "tags.edge_gpu_deployment='gpu-fleet-a'"
    assert configuration['priority'] == 10 and configuration['labels'] == {'owner': 'edge-gpu'}
    for host in first:
        with open(os.path.join(sim_root, host, 'edge', 'deployment.json')) as handle:
            assert configuration['content']['modulesContent'] == json.load(handle)['modulesContent'], host
        assert saved(run, host) is None, host  # no failure saved
    assert CREDENTIALS['acr'] == configuration['content']['modulesContent']['$edgeAgent']['properties.desired'][
        'runtime']['settings']['registryCredentials']['acr']
    for host in second:
        failure = saved(run, host)
        assert failure is not None, host
        message = failure['msg'] if 'msg' in failure else json.dumps(failure)
        assert "layered deployment 'gpu-fleet-b'" in message and all(other in message for other in second), message
        assert not any(other in message for other in first), message

    # 5. Refused settings: the preflight names the variables; no request, no file on the device or
    # in the review directory.
    assert phases['refused'] == []
    expected = {
        'edge-07': 'gpu_workloads_iothub_apply=device applies an IoT Edge manifest, but gpu_workloads_platform is kubernetes',
        'edge-08': 'gpu_workloads_iothub_apply=layered needs gpu_workloads_iothub_deployment_id',
        'edge-09': 'gpu_workloads_iothub_apply=device and gpu_workloads_output_dir=%s/review exclude each other' % run.results_dir,
    }
    for host, message in expected.items():
        failure = saved(run, host)
        assert failure is not None and message in json.dumps(failure), (host, failure)
        assert not os.path.exists(os.path.join(sim_root, host, 'deployment.json')), host
    assert not os.path.exists(os.path.join(run.results_dir, 'review'))
