# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The k8s_gpu_sharing role in output-dir (GitOps) mode over the simulated fleet."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import yaml

from harness import validate_kubernetes  # pylint: disable=import-error

# Devices with a GPU and a loaded driver; node group -> profile comes from tests/sim/inventory.yml.
TARGET = 'all:!no_nvml'
GROUP_PROFILES = {'t4_single': 't4-x4', 't4_single_busy': 't4-x2-strict', 't4_dual': 't4-x4',
                  'a100_mig': 'a100-mig', 't4_legacy_bindings': 't4-x4',
                  # The Jetson-class device (no node profile of its own): the default profile.
                  'jetson_orin': 't4-x4'}


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def test_output_dir_has_one_configmap_and_one_label_per_node(fleet_hosts, playbook, tmp_path):
    out = str(tmp_path / 'gitops')
    first = playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars={'target_hosts': TARGET, 'k8s_gpu_sharing_output_dir': out})
    assert first.rc == 0, first.output
    nodes = sorted(host for host, device in fleet_hosts.items() if device in GROUP_PROFILES)

    configmap = load(os.path.join(out, 'configmap.yaml'))
    validate_kubernetes(configmap)
    # Every profile the inventory defines, whether a node group uses it or not.
    assert sorted(configmap['data']) == sorted(set(GROUP_PROFILES.values()) | {'t4-mps'})
    assert yaml.safe_load(configmap['data']['t4-mps'])['sharing']['mps']['resources'][0]['replicas'] == 4

    assert sorted(name[:-len('.yaml')] for name in os.listdir(os.path.join(out, 'nodes'))) == nodes
    for host in nodes:
        node = load(os.path.join(out, 'nodes', host + '.yaml'))
        validate_kubernetes(node)
        assert node['metadata'] == {'name': host, 'labels': {
            'nvidia.com/device-plugin.config': GROUP_PROFILES[fleet_hosts[host]]}}

    policy = load(os.path.join(out, 'clusterpolicy-patch.yaml'))
    assert policy['kind'] == 'ClusterPolicy'
    assert policy['spec']['devicePlugin']['config'] == {'name': 'device-plugin-config', 'default': 't4-x4'}

    second = playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars={'target_hosts': TARGET, 'k8s_gpu_sharing_output_dir': out})
    assert second.rc == 0, second.output
    assert all(counts['changed'] == 0 for counts in second.recap().values()), second.recap()


def test_profile_that_does_not_fit_the_node_fails_before_any_file(fleet_hosts, playbook, tmp_path):
    out = str(tmp_path / 'gitops')
    run = playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars={
        'target_hosts': 'a100_mig', 'k8s_gpu_sharing_output_dir': out, 'k8s_gpu_sharing_node_profile': 't4-mps'})
    assert run.rc != 0
    assert 'not supported on MIG-enabled GPUs' in run.output
    assert not os.path.exists(out)


def test_unknown_profile_is_named(fleet_hosts, playbook, tmp_path):
    run = playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars={
        'target_hosts': 'edge-01', 'k8s_gpu_sharing_output_dir': str(tmp_path), 'k8s_gpu_sharing_node_profile': 'x9'})
    assert run.rc != 0 and 'profile "x9" is not one of the profiles' in run.output


def test_standalone_plugin_config_is_written_on_each_node(fleet_hosts, playbook, sim_root, tmp_path):
    dest = os.path.join(sim_root, '{{ inventory_hostname }}', 'device-plugin.yaml')
    run = playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars={
        'target_hosts': 'edge-09:edge-13', 'k8s_gpu_sharing_output_dir': str(tmp_path / 'out'),
        'k8s_gpu_sharing_plugin_config_dest': dest})
    assert run.rc == 0, run.output
    assert load(os.path.join(sim_root, 'edge-13', 'device-plugin.yaml'))['sharing']['timeSlicing']['resources'][0]['replicas'] == 4
    assert load(os.path.join(sim_root, 'edge-09', 'device-plugin.yaml'))['sharing']['timeSlicing']['failRequestsGreaterThanOne'] is True


def test_empty_profiles_fail_in_preflight_naming_the_variable(fleet_hosts, playbook, tmp_path):
    out = str(tmp_path / 'gitops')
    run = playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars={
        'target_hosts': 'edge-01', 'k8s_gpu_sharing_output_dir': out, 'k8s_gpu_sharing_profiles': {}})
    assert run.rc != 0 and 'k8s_gpu_sharing_profiles must be a non-empty dictionary' in run.output
    assert not os.path.exists(out)


def test_verify_reads_the_files_back(fleet_hosts, playbook, tmp_path):
    out = str(tmp_path / 'gitops')
    extra = {'target_hosts': 'edge-01:edge-13', 'k8s_gpu_sharing_output_dir': out}
    assert playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars=extra).rc == 0
    with open(os.path.join(out, 'nodes', 'edge-13.yaml'), 'w') as handle:
        handle.write('kind: Node\n')
    # The phases carry their own tags: verify alone (after preflight) finds the edited file.
    run = playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars=extra,
                   args=['--tags', 'k8s_gpu_sharing_preflight,k8s_gpu_sharing_verify'])
    assert run.rc != 0 and 'nodes/edge-13.yaml does not hold the node' in run.output
    assert run.recap()['edge-01']['failed'] == 0
    assert playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars=extra).rc == 0
    assert load(os.path.join(out, 'nodes', 'edge-13.yaml'))['metadata']['labels'] == {'nvidia.com/device-plugin.config': 't4-x4'}


def test_phases_are_tagged_like_every_role(playbook):
    run = playbook('edge_gpu.sharing.k8s_gpu_sharing', args=['--list-tags'])
    assert run.rc == 0, run.output
    for tag in ('k8s_gpu_sharing', 'k8s_gpu_sharing_preflight', 'k8s_gpu_sharing_configure', 'k8s_gpu_sharing_verify'):
        assert tag in run.output


def test_plugin_mps_beside_host_mps_is_refused_before_anything_is_written(fleet_hosts, playbook, tmp_path):
    out = str(tmp_path / 'gitops')
    # edge-13 runs host MPS (mps_enabled in the inventory); the plugin's MPS profile would be a second daemon.
    run = playbook('edge_gpu.sharing.k8s_gpu_sharing', extra_vars={
        'target_hosts': 'edge-13', 'k8s_gpu_sharing_output_dir': out, 'k8s_gpu_sharing_node_profile': 't4-mps'})
    assert run.rc != 0 and 'two MPS control daemons would serve the same GPUs' in run.output
    assert not os.path.exists(out)
