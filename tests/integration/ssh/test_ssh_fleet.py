# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection's playbooks over real SSH: each simulated device is an sshd in its own network namespace."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess

import fleet  # pylint: disable=import-error
from harness import mps_daemons_under, mps_query, require_nvidia_userland  # pylint: disable=import-error

HERE = os.path.dirname(os.path.abspath(__file__))
EXCLUSIVE_PROCESS, DEFAULT = 3, 0
UNREACHABLE = 4  # ansible-playbook's exit code when a host was unreachable


def environ(pid):
    with open('/proc/%d/environ' % pid, 'rb') as handle:
        return dict(item.decode().split('=', 1) for item in handle.read().split(b'\0') if b'=' in item)


def gpu_state(ssh_fleet, host):
    with open(os.path.join(ssh_fleet.sim_root, host, 'nvml.json')) as handle:
        return json.load(handle)['gpus']


def test_gpu_inventory_over_ssh(ssh_fleet, ssh_playbook):
    run = ssh_playbook('edge_gpu.sharing.gpu_inventory')
    assert run.rc == 0, run.output
    recap = run.recap()
    assert sorted(recap) == sorted(ssh_fleet.hosts), recap
    assert all(counts['ok'] >= 2 and counts['failed'] == counts['unreachable'] == counts['changed'] == 0
               for counts in recap.values()), recap
    gpus = sum(len(fleet.load_device(ssh_fleet.devices[host])['gpus']) for host in ssh_fleet.hosts)
    assert '"devices": %d,' % len(ssh_fleet.hosts) in run.output and '"gpus": %d,' % gpus in run.output, run.output
    # Each device was reached over its own veth pair, with the fleet's key.
    for host in ssh_fleet.hosts:
        assert 'Accepted publickey for root from %s ' % ssh_fleet.controller_address(host) in ssh_fleet.sshd_log(host)


def test_mps_role_over_ssh_with_become_and_pipelining_converges_then_changes_nothing(ssh_fleet, ssh_playbook):
    require_nvidia_userland()
    mps_hosts = sorted(host for host in ssh_fleet.hosts if ssh_fleet.devices[host] == 't4_dual')
    assert mps_hosts, 'the fleet needs a device the inventory enables MPS on'
    first = ssh_playbook('edge_gpu.sharing.mps')
    assert first.rc == 0, first.output
    recap = first.recap()
    assert sorted(recap) == sorted(ssh_fleet.hosts), recap
    assert all(recap[host]['changed'] > 0 for host in mps_hosts), recap
    assert all(recap[host]['changed'] == 0 for host in recap if host not in mps_hosts), recap
    assert all(counts['failed'] == counts['unreachable'] == 0 for counts in recap.values()), recap
    for host in mps_hosts:
        pipe = os.path.join(ssh_fleet.sim_root, host, 'mps', 'pipe')
        daemons = mps_daemons_under(pipe)
        # NVIDIA's daemon runs on the device (inside its namespace), started through sudo.
        assert len(daemons) == 1 and daemons[0] in ssh_fleet.namespace_pids(host), (daemons, ssh_fleet.namespace_pids(host))
        assert environ(daemons[0]).get('SUDO_USER') == 'root'
        assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '50.0')
        assert mps_query(pipe, 'get_default_device_pinned_mem_limit 0') == (0, '4G')
        assert [gpu['compute_mode'] for gpu in gpu_state(ssh_fleet, host)] == [DEFAULT, EXCLUSIVE_PROCESS]
    for host in set(ssh_fleet.hosts) - set(mps_hosts):
        assert mps_daemons_under(os.path.join(ssh_fleet.sim_root, host)) == []
    # Pipelining: no module was ever copied to a device, so the remote temporary directory never appeared.
    assert not os.path.exists(ssh_fleet.remote_tmp)

    second = ssh_playbook('edge_gpu.sharing.mps')
    assert second.rc == 0, second.output
    recap = second.recap()
    assert sorted(recap) == sorted(ssh_fleet.hosts), recap
    assert all(counts['changed'] == counts['failed'] == counts['unreachable'] == 0 for counts in recap.values()), recap


def test_a_device_lost_mid_run_does_not_stop_the_others(ssh_fleet, ssh_playbook):
    lost = ssh_fleet.hosts[-1]
    others = [host for host in ssh_fleet.hosts if host != lost]
    try:
        run = ssh_playbook(os.path.join(HERE, 'cut_one_device.yml'), extra_vars={'cut_command': ssh_fleet.cut_command(lost)})
    finally:
        ssh_fleet.revive(lost)
    assert run.rc == UNREACHABLE, run.output
    recap = run.recap()
    assert recap[lost]['ok'] == 1 and recap[lost]['unreachable'] == 1 and recap[lost]['failed'] == 0, recap
    # Every other device answered both before and after the loss.
    assert all(recap[host]['ok'] == 2 and recap[host]['unreachable'] == recap[host]['failed'] == 0 for host in others), recap
    after = run.output.split('PLAY [The rest of the fleet carries on]', 1)[1]
    assert 'fatal: [%s]: UNREACHABLE!' % lost in after, after
    assert all('ok: [%s]' % host in after for host in others), after


def test_site_over_ssh_converges_then_changes_nothing_and_reports_an_unreachable_device(ssh_fleet, ssh_playbook):
    require_nvidia_userland()
    example = os.path.join(HERE, '..', '..', '..', 'examples', 'fleet', 'inventory', 'hosts.yml')
    # The example fleet's group_vars say what each device is asked for; the SSH inventory how to reach it.
    args = ['-i', example, '--limit', ','.join(ssh_fleet.hosts)]
    first = ssh_playbook('edge_gpu.sharing.site', args=args)
    assert first.rc == 0, first.output[-3000:]
    recap = first.recap()
    assert sorted(recap) == sorted(ssh_fleet.hosts), recap
    assert all(counts['failed'] == counts['unreachable'] == 0 for counts in recap.values()), recap
    for host in ssh_fleet.hosts:
        assert '"%s: strategy' % host in first.output
    for host in (host for host in ssh_fleet.hosts if ssh_fleet.devices[host] == 't4_dual'):
        pipe = os.path.join(ssh_fleet.sim_root, host, 'mps', 'pipe')
        daemons = mps_daemons_under(pipe)
        assert len(daemons) == 1 and daemons[0] in ssh_fleet.namespace_pids(host)
        assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '50.0')

    second = ssh_playbook('edge_gpu.sharing.site', args=args)
    assert second.rc == 0, second.output[-3000:]
    assert all(counts['changed'] == 0 for counts in second.recap().values()), second.recap()

    lost = ssh_fleet.hosts[-1]
    try:
        subprocess.run(ssh_fleet.cut_command(lost), check=True)
        third = ssh_playbook('edge_gpu.sharing.site', args=args)
    finally:
        ssh_fleet.revive(lost)
    recap = third.recap()
    assert recap[lost]['unreachable'] == 1, recap
    assert all(recap[host]['failed'] == recap[host]['unreachable'] == 0 for host in recap if host != lost), recap
    unreached = third.output.split('TASK [Devices that could not be reached or were not run]', 1)[1].split('PLAY RECAP')[0]
    assert '"%s"' % lost in unreached, unreached
