# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Lay out the simulated fleet: one state directory and one interpreter per host.

    python tests/sim/fleet.py --root build/sim [--inventory tests/sim/inventory.yml]

For every host of the inventory, ``ROOT/HOST/nvml.json`` is a fresh copy of the device
file its ``sim_device`` names, and ``ROOT/HOST/python`` is a wrapper around this
interpreter that points the fake ``pynvml`` at that file. The inventory makes each
host use its wrapper, so the real modules run unchanged and each "device" keeps its
own GPU state across tasks.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEVICES = os.path.join(HERE, 'devices')
INVENTORY = os.path.join(HERE, 'inventory.yml')


def _quote(value):
    return "'%s'" % value.replace("'", "'\"'\"'")


def write_interpreter(path, env, python=None):
    """Write an executable shell wrapper that sets ``env`` and execs ``python``."""
    lines = ['#!/bin/sh', '# written by tests/sim/fleet.py']
    for name in sorted(env):
        lines.append('%s=%s; export %s' % (name, _quote(env[name]), name))
    lines.append('exec %s "$@"' % _quote(python or sys.executable))
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def hosts_of(inventory):
    """``{host: sim_device}`` as Ansible itself reads the inventory."""
    ansible_inventory = os.path.join(os.path.dirname(sys.executable), 'ansible-inventory')
    out = subprocess.check_output([ansible_inventory, '-i', inventory, '--list'])
    hostvars = json.loads(out)['_meta']['hostvars']
    return dict((host, hostvars[host]['sim_device']) for host in hostvars if 'sim_device' in hostvars[host])


def device_file(name):
    return os.path.join(DEVICES, name + '.json')


def load_device(name):
    """The parsed device file NAME."""
    with open(device_file(name)) as handle:
        return json.load(handle)


def create_host(root, host, device, extra_env=None, nvidia_root=None):
    """Create (or reset) one simulated host; returns its directory.

    With ``nvidia_root`` (see fetch_nvidia_userland.sh), NVIDIA's real programs, the MPS
    control daemon among them, are first on the host's PATH.
    """
    directory = os.path.join(root, host)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    shutil.copyfile(device_file(device), os.path.join(directory, 'nvml.json'))
    env = {'EDGE_GPU_SIM_NVML': os.path.join(directory, 'nvml.json'), 'PYTHONPATH': HERE}
    if nvidia_root:
        env['PATH'] = os.pathsep.join([os.path.join(os.path.abspath(nvidia_root), 'bin'), os.environ.get('PATH', os.defpath)])
    env.update(extra_env or {})
    write_interpreter(os.path.join(directory, 'python'), env)
    return directory


def create(root, inventory=INVENTORY, nvidia_root=None):
    root = os.path.abspath(root)
    hosts = hosts_of(inventory)
    for host, device in sorted(hosts.items()):
        create_host(root, host, device, nvidia_root=nvidia_root)
    return hosts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--root', required=True, help='where the hosts live (EDGE_GPU_SIM_ROOT)')
    parser.add_argument('--inventory', default=INVENTORY)
    parser.add_argument('--nvidia-root', help='NVIDIA userland unpacked by fetch_nvidia_userland.sh, put on PATH')
    args = parser.parse_args()
    hosts = create(args.root, args.inventory, args.nvidia_root)
    print('simulated fleet: %d hosts under %s' % (len(hosts), os.path.abspath(args.root)))


if __name__ == '__main__':
    main()
