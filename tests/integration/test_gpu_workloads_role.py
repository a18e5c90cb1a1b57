# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The gpu_workloads role in output-dir mode over the simulated fleet."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import jsonschema
import kubernetes_validate
import yaml

from harness import validate_kubernetes  # pylint: disable=import-error
from iotedge_agent import check_manifest  # pylint: disable=import-error

TARGET = 'all:!no_nvml'


# Devices the role writes nothing for: no GPU, or (the MIG A100s) an empty workload list, which
# deploys nothing rather than a manifest that would remove every module.
NOTHING_TO_DEPLOY = ('no_gpu', 'driver_not_loaded', 'a100_mig')


def iotedge_hosts(fleet_hosts):
    """The hosts the role writes an IoT Edge manifest for (the rest deploy nothing, or Kubernetes)."""
    return sorted(host for host, device in fleet_hosts.items() if device not in NOTHING_TO_DEPLOY + ('t4_dual',))


# One two-T4 device renders its workloads as DRA claims in the same runs (an extra variable
# templated per host), so DRA costs no extra ansible-playbook run.
DRA_HOST = 'edge-14'
DRA_ALLOCATION = "{{ 'dra' if inventory_hostname == '%s' else 'device_plugin' }}" % DRA_HOST
DEVICES = os.path.join(os.path.dirname(__file__), '..', 'sim', 'devices')


def check_dra_objects(directory):
    """edge-14's objects: detector (20 %, 2G) alone on GPU 0, tracker (30 %) and counter (40 %)
    sharing GPU 1 through one claim that pins it by UUID."""
    with open(os.path.join(DEVICES, 't4_dual.json')) as handle:
        uuid0, uuid1 = [gpu['uuid'] for gpu in json.load(handle)['gpus']]
    objects = {}
    for name in os.listdir(directory):
        with open(os.path.join(directory, name)) as handle:
            obj = yaml.safe_load(handle)
        # resource.k8s.io/v1 is in Kubernetes 1.34 and later.
        kubernetes_validate.validate(obj, '1.34', strict=True)
        objects[obj['metadata']['name']] = obj
    claims = dict((name, obj) for name, obj in objects.items() if obj['kind'].startswith('ResourceClaim'))
    assert sorted(obj['kind'] for obj in claims.values()) == ['ResourceClaim', 'ResourceClaimTemplate']
    pods = dict((name, obj['spec']['template']['spec']) for name, obj in objects.items() if name not in claims)
    assert sorted(pods) == ['counter', 'detector', 'tracker']

    def claim_of(workload):
        reference = pods[workload]['resourceClaims'][0]
        name = reference.get('resourceClaimName') or reference.get('resourceClaimTemplateName')
        obj = claims[name]
        return obj['spec'] if obj['kind'] == 'ResourceClaim' else obj['spec']['spec']

    def selector_and_mps(spec):
        devices = spec['devices']
        expression = devices['requests'][0]['exactly']['selectors'][0]['cel']['expression']
        sharing = devices['config'][0]['opaque']['parameters']['sharing']
        assert devices['requests'][0]['exactly']['deviceClassName'] == 'gpu.nvidia.com' and sharing['strategy'] == 'MPS'
        return expression, sharing['mpsConfig']

    expression, mps = selector_and_mps(claim_of('detector'))
    assert uuid0 in expression and uuid1 not in expression
    assert mps == {'defaultActiveThreadPercentage': 20, 'defaultPinnedDeviceMemoryLimit': '2Gi'}
    assert claim_of('tracker') == claim_of('counter')
    expression, mps = selector_and_mps(claim_of('counter'))
    assert uuid1 in expression and uuid0 not in expression and mps == {'defaultActiveThreadPercentage': 40}
    envs = dict((name, dict((item['name'], item['value']) for item in pod['containers'][0].get('env', [])))
                for name, pod in pods.items())
    assert envs == {'detector': {}, 'tracker': {'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '30'}, 'counter': {}}
    # Each claim holds its GPU: a rolling update's surge pod could never get it.
    assert all(objects[name]['spec']['strategy'] == {'type': 'Recreate'} for name in pods)
    for pod in pods.values():
        assert 'hostIPC' not in pod and 'volumes' not in pod
        assert pod['containers'][0]['resources'] == {'claims': [{'name': 'gpu', 'request': 'gpu'}]}


def test_fleet_renders_valid_manifests_idempotently(fleet_hosts, playbook, tmp_path):
    out = str(tmp_path / 'rendered')
    extra = {'target_hosts': TARGET, 'gpu_workloads_output_dir': out, 'gpu_workloads_allocation': DRA_ALLOCATION}
    check = playbook('edge_gpu.sharing.gpu_workloads', extra_vars=extra, check=True)
    assert check.rc == 0, check.output
    assert not os.path.exists(out)

    first = playbook('edge_gpu.sharing.gpu_workloads', extra_vars=extra)
    assert first.rc == 0, first.output
    hosts = sorted(host for host, device in fleet_hosts.items() if device not in NOTHING_TO_DEPLOY)
    assert sorted(os.listdir(out)) == hosts
    assert fleet_hosts[DRA_HOST] == 't4_dual'
    for host in hosts:
        files = sorted(os.listdir(os.path.join(out, host)))
        if host == DRA_HOST:
            check_dra_objects(os.path.join(out, host))
        elif fleet_hosts[host] == 't4_dual':
            assert files == ['counter.yaml', 'detector.yaml', 'tracker.yaml']
            for name in files:
                with open(os.path.join(out, host, name)) as handle:
                    obj = yaml.safe_load(handle)
                validate_kubernetes(obj)
                assert obj['spec']['template']['spec']['hostIPC'] is True
        else:
            assert files == ['deployment.json']
            with open(os.path.join(out, host, 'deployment.json')) as handle:
                check_manifest(json.load(handle))

    second = playbook('edge_gpu.sharing.gpu_workloads', extra_vars=extra)
    assert second.rc == 0, second.output
    assert all(counts['changed'] == 0 for counts in second.recap().values()), second.recap()


def test_role_manifests_match_the_reference_schema(iotedge_reference_schema, fleet_hosts, playbook, tmp_path):
    """The manifests of the test above, cross-checked against SchemaStore's schema in ../shared
    (skipped, before any fleet is laid out, where ../shared is absent)."""
    out = str(tmp_path / 'rendered')
    run = playbook('edge_gpu.sharing.gpu_workloads', extra_vars={'target_hosts': TARGET, 'gpu_workloads_output_dir': out})
    assert run.rc == 0, run.output
    hosts = iotedge_hosts(fleet_hosts)
    assert hosts
    for host in hosts:
        with open(os.path.join(out, host, 'deployment.json')) as handle:
            jsonschema.validate(json.load(handle), iotedge_reference_schema)


def test_manifest_is_left_on_the_device(fleet_hosts, playbook, sim_root):
    dest = os.path.join(sim_root, '{{ inventory_hostname }}', 'deployment.json')
    run = playbook('edge_gpu.sharing.gpu_workloads', extra_vars={'target_hosts': 'edge-02', 'gpu_workloads_iotedge_dest': dest})
    assert run.rc == 0, run.output
    with open(os.path.join(sim_root, 'edge-02', 'deployment.json')) as handle:
        modules = check_manifest(json.load(handle))['modulesContent']['$edgeAgent']['properties.desired']['modules']
    assert sorted(modules) == ['nbody1', 'nbody2']
    path = os.path.join(sim_root, 'edge-02', 'deployment.json')
    assert os.stat(path).st_mode & 0o777 == 0o600
    # Someone made it readable by all: the next run puts it back, with the mode the role is given.
    os.chmod(path, 0o644)
    again = playbook('edge_gpu.sharing.gpu_workloads', extra_vars={
        'target_hosts': 'edge-02', 'gpu_workloads_iotedge_dest': dest, 'gpu_workloads_iotedge_mode': '0640',
        'gpu_workloads_iotedge_group': 'root'})
    assert again.rc == 0 and again.recap()['edge-02']['changed'] == 1, again.output
    assert os.stat(path).st_mode & 0o777 == 0o640
    refused = playbook('edge_gpu.sharing.gpu_workloads', extra_vars={
        'target_hosts': 'edge-02', 'gpu_workloads_iotedge_dest': dest, 'gpu_workloads_iotedge_mode': '0644'})
    assert refused.rc != 0 and 'mode: 0644 would let other users read' in refused.output
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_device_that_cannot_hold_the_workloads_fails_and_writes_nothing(fleet_hosts, playbook, tmp_path):
    out = str(tmp_path / 'rendered')
    run = playbook('edge_gpu.sharing.gpu_workloads', extra_vars={
        'target_hosts': 'edge-19', 'gpu_workloads_output_dir': out,
        'gpu_workloads_list': [{'name': 'a', 'image': 'registry.local/a:1'}]})
    assert run.rc != 0 and "workload 'a': no GPU can take it" in run.output and 'MIG-enabled' in run.output
    assert not os.path.exists(out)


def test_verify_reads_the_written_objects_back(fleet_hosts, playbook, tmp_path):
    out = str(tmp_path / 'rendered')
    extra = {'target_hosts': 'edge-13', 'gpu_workloads_output_dir': out}
    assert playbook('edge_gpu.sharing.gpu_workloads', extra_vars=extra).rc == 0
    with open(os.path.join(out, 'edge-13', 'tracker.yaml'), 'w') as handle:
        handle.write('kind: Deployment\n')
    # The phases carry their own tags: verify alone (after preflight) finds the edited file.
    run = playbook('edge_gpu.sharing.gpu_workloads', extra_vars=extra,
                   args=['--tags', 'gpu_workloads_preflight,gpu_workloads_verify'])
    assert run.rc != 0 and 'edge-13/tracker.yaml does not hold the Deployment' in run.output
    assert playbook('edge_gpu.sharing.gpu_workloads', extra_vars=extra).rc == 0


def test_phases_are_tagged_like_every_role(playbook):
    run = playbook('edge_gpu.sharing.gpu_workloads', args=['--list-tags'])
    assert run.rc == 0, run.output
    for tag in ('gpu_workloads', 'gpu_workloads_preflight', 'gpu_workloads_configure', 'gpu_workloads_verify'):
        assert tag in run.output


def test_review_mode_with_images_from_the_credentials_registry(fleet_hosts, playbook, tmp_path):
    # The registry address is a value of the no_log registry_credentials, so Ansible masks it in every
    # registered result, image names included: verify compared the written file with such a masked
    # plan and failed ("does not deploy the modules planned") until the plan was made without them.
    out = str(tmp_path / 'rendered')
    image = 'myacr.azurecr.io/detector:1'
    run = playbook('edge_gpu.sharing.gpu_workloads', extra_vars={
        'target_hosts': 'edge-02', 'gpu_workloads_output_dir': out,
        'gpu_workloads_list': [{'name': 'detector', 'image': image}],
        'gpu_workloads_registry_credentials': {'acr': {'address': 'myacr.azurecr.io', 'username': 'puller',
                                                       'password': 'review-pw-never-shown'}}})
    assert run.rc == 0, run.output[-3000:]
    assert 'review-pw-never-shown' not in run.output
    with open(os.path.join(out, 'edge-02', 'deployment.json')) as handle:
        desired = json.load(handle)['modulesContent']['$edgeAgent']['properties.desired']
    assert desired['modules']['detector']['settings']['image'] == image
    assert desired['runtime']['settings']['registryCredentials']['acr']['password'] == 'review-pw-never-shown'
