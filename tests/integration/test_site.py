# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""site.yml over the whole simulated fleet, asked for what examples/fleet's group_vars say,
with NVIDIA's real MPS control daemon on every device."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest
import yaml

from harness import mps_daemons_under, mps_query, require_nvidia_userland  # pylint: disable=import-error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_INVENTORY = os.path.join(ROOT, 'examples', 'fleet', 'inventory', 'hosts.yml')
SITE = 'edge_gpu.sharing.site'
GPU1_OF_DUAL = 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7'
MPS_VARIABLES = ('CUDA_MPS_PIPE_DIRECTORY', 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT')
EXCLUSIVE_PROCESS, DEFAULT = 3, 0


@pytest.fixture(autouse=True)
def userland():
    require_nvidia_userland()


@pytest.fixture
def site(playbook, tmp_path):
    """Run site.yml with the example fleet's group_vars, plus per-host overrides for faults."""
    def run(check=False, diff=False, host_vars=None, more=()):
        args = ['-i', EXAMPLE_INVENTORY] + list(more)
        if host_vars:
            path = str(tmp_path / 'faults.yml')
            with open(path, 'w') as handle:
                yaml.safe_dump({'all': {'hosts': host_vars}}, handle)
            args += ['-i', path]
        if diff:
            args.append('--diff')
        return playbook(SITE, args=args, check=check)
    return run


def snapshot(sim_root):
    """Everything a run may change on the devices: GPU state, files, running daemons."""
    files = {}
    for top, _dirs, names in os.walk(sim_root):
        for name in names:
            path = os.path.join(top, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue  # the daemon's sockets and FIFOs
            with open(path, 'rb') as handle:
                # The fake NVML rewrites its device file on every change: compare what it says.
                if name == 'nvml.json':
                    files[os.path.relpath(path, sim_root)] = json.load(handle)
                else:
                    files[os.path.relpath(path, sim_root)] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return files, sorted(mps_daemons_under(sim_root))


def manifest_env(sim_root, host):
    """``{module: env}`` of the IoT Edge manifest the device was given."""
    with open(os.path.join(sim_root, host, 'edge', 'deployment.json')) as handle:
        desired = json.load(handle)['modulesContent']['$edgeAgent']['properties.desired']
    return dict((name, dict((key, value['value']) for key, value in module['env'].items()))
                for name, module in desired['modules'].items())


def kubernetes_env(sim_root, host):
    """``{workload: env}`` of the Kubernetes objects written for the device."""
    directory = os.path.join(sim_root, 'gitops', host)
    envs = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name)) as handle:
            obj = yaml.safe_load(handle)
        if obj.get('kind') in ('Deployment', 'Job'):
            container = obj['spec']['template']['spec']['containers'][0]
            envs[container['name']] = dict((item['name'], item['value']) for item in container['env'])
    return envs


def daemon_environ(sim_root, host):
    pids = mps_daemons_under(os.path.join(sim_root, host, 'mps', 'pipe'))
    assert len(pids) == 1, (host, pids)
    with open('/proc/%d/environ' % pids[0], 'rb') as handle:
        return dict(item.decode().split('=', 1) for item in handle.read().split(b'\0') if b'=' in item)


def test_dry_run_converge_rerun_across_the_fleet(fleet_hosts, site, sim_root):
    fresh = snapshot(sim_root)
    dry = site(check=True, diff=True)
    assert dry.rc == 0, dry.output[-3000:]
    # The dry run names what would change, and changes nothing anywhere.
    assert 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE' in dry.output and '"running": true' in dry.output
    assert snapshot(sim_root) == fresh

    run = site()
    assert run.rc == 0, run.output[-3000:]
    recap = run.recap()
    assert sorted(recap) == sorted(fleet_hosts)
    assert not [host for host, counts in recap.items() if counts['failed'] or counts['unreachable']]
    # One line per device, the GPU-less ones included as successes.
    for host in fleet_hosts:
        assert '"%s: strategy' % host in run.output
    assert 'no usable NVML' in run.output

    # The two-T4 devices: the daemon serves GPU 1 only, with the planned default, read back from
    # NVIDIA's real control program; GPU 1 is exclusive_process, GPU 0 untouched.
    dual = sorted(host for host, device in fleet_hosts.items() if device == 't4_dual')
    for host in dual:
        assert daemon_environ(sim_root, host)['CUDA_VISIBLE_DEVICES'] == GPU1_OF_DUAL
        pipe = os.path.join(sim_root, host, 'mps', 'pipe')
        assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '50.0')
        with open(os.path.join(sim_root, host, 'nvml.json')) as handle:
            modes = [gpu['compute_mode'] for gpu in json.load(handle)['gpus']]
        assert modes == [DEFAULT, EXCLUSIVE_PROCESS]
    assert sorted(host for host in fleet_hosts if mps_daemons_under(os.path.join(sim_root, host, 'mps', 'pipe'))) == dual

    # No workload anywhere has MPS variables unless its GPU is one the device's daemon serves.
    for host, device in fleet_hosts.items():
        if device == 't4_dual':
            envs = kubernetes_env(sim_root, host)
            on_mps = dict((name, env['NVIDIA_VISIBLE_DEVICES'] == '1') for name, env in envs.items())
            assert on_mps == {'detector': True, 'tracker': True, 'counter': True, 'recorder': False}, (host, envs)
        elif os.path.exists(os.path.join(sim_root, host, 'edge', 'deployment.json')):
            envs = manifest_env(sim_root, host)
            on_mps = dict((name, False) for name in envs)
            assert os.stat(os.path.join(sim_root, host, 'edge', 'deployment.json')).st_mode & 0o077 == 0
        else:
            envs, on_mps = {}, {}
        for name, env in envs.items():
            assert bool([key for key in MPS_VARIABLES if key in env]) == on_mps[name], (host, name, env)
    # The VM's GPU is never given to a workload; the gateway without GPUs gets its module.
    assert manifest_env(sim_root, 'edge-21') == {'telemetry': {'NVIDIA_VISIBLE_DEVICES': 'void'}}
    assert manifest_env(sim_root, 'edge-22')['gateway']['NVIDIA_VISIBLE_DEVICES'] == 'void'

    again = site()
    assert again.rc == 0
    assert dict((host, counts['changed']) for host, counts in again.recap().items()) == dict(
        (host, 0) for host in fleet_hosts)


def test_the_role_included_in_check_mode_predicts_and_changes_nothing(fleet_hosts, playbook, sim_root):
    """The devices' MPS, manifest and mode changes all predicted, none made, and no health check
    failing for them (it used to, since only --check told the role it changed nothing)."""
    hosts = ['edge-01', 'edge-13', 'edge-22']
    before = snapshot(sim_root)
    run = playbook('role_in_check_mode.yml', args=['-i', EXAMPLE_INVENTORY], extra_vars={'target_hosts': ','.join(hosts)})
    assert run.rc == 0, run.output
    recap = run.recap()
    assert all(recap[host]['failed'] == 0 for host in hosts), run.output
    # The MPS daemon of the two-T4 device and the IoT Edge manifest were predicted as changes.
    assert 'changed: [edge-13]' in run.output and 'changed: [edge-01]' in run.output, run.output
    assert snapshot(sim_root) == before


def test_one_broken_device_never_takes_the_fleet_down(fleet_hosts, site, sim_root, tmp_path):
    failing_daemon = str(tmp_path / 'failing-mps-control')
    with open(failing_daemon, 'w') as handle:
        handle.write('#!/bin/sh\necho "cannot start: simulated failure" >&2\nexit 1\n')
    os.chmod(failing_daemon, 0o755)
    before = dict((host, snapshot(os.path.join(sim_root, host))) for host in ('edge-01', 'edge-13', 'edge-15', 'edge-22'))
    run = site(host_vars={
        # The daemon fails to start after the GPU was put in exclusive_process: put back, reported.
        'edge-01': {'gpu_sharing_strategy': 'mps', 'gpu_sharing_workloads': [],
                    'gpu_sharing_mps_control_binary': failing_daemon},
        # Percentages adding up to 130 % on one GPU: refused before anything changes.
        'edge-15': {'gpu_sharing_workloads': [
            {'name': 'a', 'image': 'registry.local/a:1', 'gpu_percentage': 70, 'gpu': 1},
            {'name': 'b', 'image': 'registry.local/b:1', 'gpu_percentage': 60, 'gpu': 1}]},
        # A GPU-less device asked for MPS: a clear failure of that device only.
        'edge-22': {'gpu_sharing_strategy': 'mps'},
        # A misspelt variable.
        'edge-16': {'gpu_sharing_stratgy': 'mps'},
        # The device converges, then applying its objects fails (no cluster here): put back.
        'edge-13': {'gpu_sharing_output_dir': ''},
    })
    assert run.rc != 0
    recap = run.recap()
    failed = sorted(host for host, counts in recap.items() if counts['failed'])
    assert failed == ['edge-01', 'edge-13', 'edge-15', 'edge-16', 'edge-22'], run.output[-4000:]
    assert all(recap[host]['failed'] == 0 for host in fleet_hosts if host not in failed)
    assert 'edge-01: FAILED' in run.output and 'simulated failure' in run.output and 'put back' in run.output
    assert 'edge-15: FAILED' in run.output and '130' in run.output
    assert 'gpu_sharing_stratgy' in run.output
    for host in ('edge-01', 'edge-15', 'edge-22'):
        assert snapshot(os.path.join(sim_root, host)) == before[host], host
    # edge-13 ran its daemon until the apply failed: the daemon is gone again and the GPUs are as
    # they were (its log stays, for the operator to read).
    assert 'edge-13: FAILED' in run.output and 'put back as it was' in run.output
    files, daemons = snapshot(os.path.join(sim_root, 'edge-13'))
    assert daemons == [] and files['nvml.json'] == before['edge-13'][0]['nvml.json']
    # The others converged: their daemons run, their manifests are there.
    assert mps_daemons_under(os.path.join(sim_root, 'edge-14', 'mps', 'pipe'))
    assert os.path.exists(os.path.join(sim_root, 'edge-02', 'edge', 'deployment.json'))


def test_rolling_batches_and_an_unreachable_device(fleet_hosts, site, sim_root):
    # edge-05 answers on no port: unreachable. The batches go on and the summary lists it.
    run = site(host_vars={'edge-05': {'ansible_connection': 'ssh', 'ansible_host': '127.0.0.1', 'ansible_port': 9,
                                      'ansible_ssh_common_args': '-o ConnectTimeout=3'}},
               more=['-e', 'gpu_sharing_serial=4', '--limit', 'edge-0*'])
    recap = run.recap()
    assert recap['edge-05']['unreachable'] == 1
    assert all(recap['edge-%02d' % number]['failed'] == 0 for number in range(1, 10))
    # Nine devices four at a time: three batches.
    assert run.output.count('PLAY [Converge GPU sharing]') == 3
    for number in (1, 2, 3, 4, 6, 7, 8, 9):
        assert '"edge-%02d: strategy' % number in run.output
    summary = run.output[run.output.index('TASK [Devices that could not be reached'):]
    assert '"edge-05"' in summary.split('PLAY RECAP')[0]
