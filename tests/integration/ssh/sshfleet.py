# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Simulated devices reached over real SSH: one ``sshd`` per device, each in its own network namespace.

    with SshFleet.start(['edge-01', 'edge-13'], nvidia_root=...) as ssh_fleet:
        ansible-playbook -i ssh_fleet.inventory ...

Each device of ``tests/sim/inventory.yml`` gets a network namespace ``egs-ssh<slot>-<host>``
joined to this machine by a veth pair (``egsssh<slot>h<n>`` here, ``eth0`` there) on its own
/30 of the test subnet ``10.213.<slot>.0/24``: this side is ``.4n+1``, the device ``.4n+2``.
There an ``sshd`` listens with a host key, an authorized key and a known_hosts file that the
fleet generates; nothing under /etc or ~/.ssh is read or written. The devices share this
machine's file system, so each keeps the simulated interpreter and NVML state that
``tests/sim/fleet.py`` lays out for it, and NVIDIA's real MPS daemon runs inside the namespace.

The written inventory keeps each host's groups and variables from the simulated inventory and
turns on SSH, key auth, ``become`` (sudo: su would turn pipelining off) and pipelining. The
SSH user is root, so ansible-playbook needs ``env`` (ANSIBLE_BECOME_ALLOW_SAME_USER) in its
environment for ``become`` to take effect.

``<slot>`` is taken under a lock from the free ones, so parallel runs never share a namespace,
an interface or a subnet. ``close()`` kills every process in the fleet's namespaces and deletes
the namespaces, the veth pairs and the files; it also runs on SIGTERM and at exit, and a slot
whose owner died without it (SIGKILL) is cleaned by the next fleet that starts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import atexit
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'sim'))

import fleet  # noqa: E402  pylint: disable=wrong-import-position,import-error

SSHD = '/usr/sbin/sshd'
STATE_DIR = '/run/edge-gpu-ssh-fleet'
SUBNET = '10.213.%d.0/24'
SLOTS = 256
NS_PREFIX = 'egs-ssh%d-'
VETH_PREFIX = 'egsssh%dh'
BIN = os.path.dirname(sys.executable)

# A few hosts of each kind: one-T4 appliances (one of them busy), a two-T4 device with MPS
# on GPU 1, a MIG-enabled A100.
DEFAULT_HOSTS = ('edge-01', 'edge-09', 'edge-13', 'edge-19')


class Unavailable(Exception):
    """This machine cannot host network namespaces (the test skips with this reason)."""


def _run(*argv, **kwargs):
    check = kwargs.pop('check', True)
    proc = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError('%s exited %d: %s' % (' '.join(argv), proc.returncode, proc.stdout.strip()))
    return proc


def why_unavailable():
    """None where namespaces, veth pairs and sshd can be set up here, else the reason."""
    if os.geteuid() != 0:
        return 'the SSH fleet needs root (network namespaces and sshd)'
    if not shutil.which('ip'):
        return 'iproute2 (ip) is not installed'
    probe = 'egs-ssh-probe-%d' % os.getpid()
    proc = _run('ip', 'netns', 'add', probe, check=False)
    if proc.returncode != 0:
        return 'ip netns add is not permitted here: %s' % proc.stdout.strip()
    _run('ip', 'netns', 'delete', probe, check=False)
    return None


def missing_tools():
    """Programs the fleet needs that `make ssh-fleet-tools` installs."""
    return [name for name, present in (('openssh-server (%s)' % SSHD, os.access(SSHD, os.X_OK)),
                                       ('sudo', shutil.which('sudo') is not None),
                                       ('ssh-keygen', shutil.which('ssh-keygen') is not None)) if not present]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _namespaces():
    return [line.split()[0] for line in _run('ip', 'netns', 'list').stdout.splitlines() if line.strip()]


def _links():
    return [line.split(':')[1].strip().split('@')[0] for line in _run('ip', '-o', 'link', 'show').stdout.splitlines()]


def _kill_namespace_processes(namespace):
    """SIGKILL every process in ``namespace`` (all of them started by the fleet or over its SSH)."""
    for _attempt in range(20):
        pids = [int(pid) for pid in _run('ip', 'netns', 'pids', namespace, check=False).stdout.split() if pid.isdigit()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.1)


def _teardown_slot(slot, root=None):
    """Remove whatever slot ``slot`` left: processes, namespaces, veth pairs, files. Idempotent."""
    if root:
        for socket_path in sorted(os.listdir(os.path.join(root, 'cp'))) if os.path.isdir(os.path.join(root, 'cp')) else []:
            _run('ssh', '-F', '/dev/null', '-o', 'ControlPath=' + os.path.join(root, 'cp', socket_path), '-O', 'exit',
                 'fleet', check=False, timeout=10)
    for namespace in _namespaces():
        if namespace.startswith(NS_PREFIX % slot):
            _kill_namespace_processes(namespace)
            _run('ip', 'netns', 'delete', namespace, check=False)
    for link in _links():
        if link.startswith(VETH_PREFIX % slot):
            _run('ip', 'link', 'delete', link, check=False)
    if root and os.path.basename(root).startswith('egs-ssh-'):  # only a directory start() made
        shutil.rmtree(root, ignore_errors=True)
    try:
        os.unlink(os.path.join(STATE_DIR, '%d.json' % slot))
    except OSError:
        pass


def _claim_slot(root):
    """Take the first free slot under a lock, cleaning slots whose owner died; returns it."""
    if not os.path.isdir(STATE_DIR):
        os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
    with open(os.path.join(STATE_DIR, 'lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in os.listdir(STATE_DIR):
            if name.endswith('.json'):
                with open(os.path.join(STATE_DIR, name)) as handle:
                    owner = json.load(handle)
                if not _alive(owner['pid']):
                    _teardown_slot(owner['slot'], owner['root'])
        taken = set(int(name[:-5]) for name in os.listdir(STATE_DIR) if name.endswith('.json'))
        # Never a subnet this machine already routes, nor names somebody else left behind.
        routes = _run('ip', '-4', 'route', 'show', 'table', 'all').stdout + _run('ip', '-4', '-o', 'addr').stdout
        namespaces, links = _namespaces(), _links()
        for slot in range(SLOTS):
            if slot in taken or ('10.213.%d.' % slot) in routes:
                continue
            if any(name.startswith(NS_PREFIX % slot) for name in namespaces) or any(name.startswith(VETH_PREFIX % slot) for name in links):
                continue
            with open(os.path.join(STATE_DIR, '%d.json' % slot), 'w') as handle:
                json.dump({'slot': slot, 'pid': os.getpid(), 'root': root}, handle)
            return slot
    raise RuntimeError('no free slot in 10.213.0.0/16')


def _export_inventory(inventory):
    """The simulated inventory as ``ansible-inventory --list --export`` gives it: groups keep their vars."""
    return json.loads(subprocess.check_output([os.path.join(BIN, 'ansible-inventory'), '-i', inventory, '--list', '--export']))


def _subtree(exported, group, hosts, hostvars):
    """The YAML-inventory form of ``group`` restricted to ``hosts``; None when none of them is in it."""
    data = exported.get(group, {})
    node = {}
    members = [host for host in data.get('hosts', []) if host in hosts]
    if members:
        node['hosts'] = dict((host, hostvars.get(host) or None) for host in members)
    children = {}
    for child in data.get('children', []):
        sub = _subtree(exported, child, hosts, hostvars)
        if sub is not None:
            children[child] = sub
    if children:
        node['children'] = children
    if not members and not children:
        return None
    if data.get('vars'):
        node['vars'] = data['vars']
    return node


class SshFleet(object):
    """A running SSH fleet; ``inventory`` is the path to give ansible-playbook, ``hosts`` its devices."""

    def __init__(self, root, slot, hosts):
        self.root = root
        self.slot = slot
        self.hosts = list(hosts)
        self.sim_root = os.path.join(root, 'sim')
        self.inventory = os.path.join(root, 'inventory.yml')
        # Never created while pipelining is on: modules are not copied to the device.
        self.remote_tmp = os.path.join(root, 'remote-tmp')
        self.devices = {}
        # Ansible skips become where the SSH user is the become user (root to root here) unless told.
        self.env = {'ANSIBLE_BECOME_ALLOW_SAME_USER': 'true'}
        self._closed = False

    # Names and addresses -------------------------------------------------------------
    def namespace(self, host):
        return (NS_PREFIX % self.slot) + host

    def veth(self, host):
        return (VETH_PREFIX % self.slot) + str(self.hosts.index(host))

    def _address(self, host, end):
        return '10.213.%d.%d' % (self.slot, 4 * self.hosts.index(host) + end)

    def address(self, host):
        """The device's address (inside its namespace)."""
        return self._address(host, 2)

    def controller_address(self, host):
        """This machine's end of the device's veth pair: where its SSH clients come from."""
        return self._address(host, 1)

    def sshd_log(self, host):
        with open(os.path.join(self.root, 'sshd', host + '.log')) as handle:
            return handle.read()

    def namespace_pids(self, host):
        """Pids of the processes running inside the device's namespace."""
        return [int(pid) for pid in _run('ip', 'netns', 'pids', self.namespace(host)).stdout.split()]

    # Life cycle ----------------------------------------------------------------------
    @classmethod
    def start(cls, hosts=DEFAULT_HOSTS, sim_inventory=fleet.INVENTORY, nvidia_root=None):
        """Set up the fleet; raises Unavailable where this machine cannot, RuntimeError where setup fails."""
        reason = why_unavailable()
        if reason:
            raise Unavailable(reason)
        missing = missing_tools()
        if missing:
            raise RuntimeError('not installed: %s (run `make ssh-fleet-tools` as root)' % ', '.join(missing))
        if len(hosts) > 63:
            raise ValueError('at most 63 devices per fleet (one /30 each in a /24)')
        # Short: MPS pipe directories below it must fit a UNIX socket path, and so must ssh's ControlPath.
        root = tempfile.mkdtemp(prefix='egs-ssh-')
        self = cls(root, _claim_slot(root), hosts)
        atexit.register(self.close)
        try:
            self._setup(sim_inventory, nvidia_root)
        except BaseException:
            self.close()
            raise
        return self

    def _setup(self, sim_inventory, nvidia_root):
        exported = _export_inventory(sim_inventory)
        hostvars = exported['_meta']['hostvars']
        groups = dict((name, data) for name, data in exported.items() if name != '_meta')
        unknown = [host for host in self.hosts if not any(host in data.get('hosts', []) for data in groups.values())]
        if unknown:
            raise ValueError('not in %s: %s' % (sim_inventory, ', '.join(unknown)))
        for host in self.hosts:
            # The host's own sim_device, else its group's (as tests/sim/inventory.yml sets them).
            device = hostvars.get(host, {}).get('sim_device') or next(
                data['vars']['sim_device'] for data in groups.values()
                if host in data.get('hosts', []) and 'sim_device' in data.get('vars', {}))
            self.devices[host] = device
            fleet.create_host(self.sim_root, host, device, nvidia_root=nvidia_root)
        for name in ('cp', 'sshd'):
            os.makedirs(os.path.join(self.root, name))
        self._keys()
        if not os.path.isdir('/run/sshd'):  # sshd's privilege separation directory
            os.makedirs('/run/sshd', mode=0o755, exist_ok=True)
        for host in self.hosts:
            self._network(host)
            self._sshd(host)
        self._write_inventory(exported, hostvars)
        self.wait_ready()

    def _keys(self):
        for name in ('client_ed25519', 'host_ed25519'):
            _run('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'edge-gpu-ssh-fleet', '-f', os.path.join(self.root, name))
        shutil.copyfile(os.path.join(self.root, 'client_ed25519.pub'), os.path.join(self.root, 'authorized_keys'))
        with open(os.path.join(self.root, 'host_ed25519.pub')) as handle:
            host_key = ' '.join(handle.read().split()[:2])
        with open(os.path.join(self.root, 'known_hosts'), 'w') as handle:
            handle.writelines('%s %s\n' % (self.address(host), host_key) for host in self.hosts)

    def _network(self, host):
        namespace, veth = self.namespace(host), self.veth(host)
        _run('ip', 'netns', 'add', namespace)
        _run('ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace)
        _run('ip', 'addr', 'add', self.controller_address(host) + '/30', 'dev', veth)
        _run('ip', 'link', 'set', veth, 'up')
        _run('ip', '-n', namespace, 'addr', 'add', self.address(host) + '/30', 'dev', 'eth0')
        _run('ip', '-n', namespace, 'link', 'set', 'lo', 'up')
        _run('ip', '-n', namespace, 'link', 'set', 'eth0', 'up')

    def _sshd(self, host):
        config = os.path.join(self.root, 'sshd', host + '.conf')
        with open(config, 'w') as handle:
            handle.write('\n'.join([
                'ListenAddress %s:22' % self.address(host),
                'HostKey %s' % os.path.join(self.root, 'host_ed25519'),
                'PidFile %s' % os.path.join(self.root, 'sshd', host + '.pid'),
                'AuthorizedKeysFile %s' % os.path.join(self.root, 'authorized_keys'),
                'PermitRootLogin prohibit-password',
                'PubkeyAuthentication yes',
                'PasswordAuthentication no',
                'KbdInteractiveAuthentication no',
                'StrictModes no',
                'UsePAM no',
                'PrintMotd no',
                'MaxSessions 50',
                'MaxStartups 50',
                'Subsystem sftp internal-sftp',
            ]) + '\n')
        _run('ip', 'netns', 'exec', self.namespace(host), SSHD, '-f', config, '-E', os.path.join(self.root, 'sshd', host + '.log'))

    def _write_inventory(self, exported, hostvars):
        hostvars = dict((host, dict(hostvars.get(host, {}), ansible_host=self.address(host))) for host in self.hosts)
        tree = _subtree(exported, 'all', set(self.hosts), hostvars)
        tree['vars'] = dict(tree.get('vars', {}), **{
            'sim_root': self.sim_root,
            'ansible_connection': 'ssh',
            'ansible_user': 'root',
            'ansible_port': 22,
            'ansible_ssh_private_key_file': os.path.join(self.root, 'client_ed25519'),
            # ServerAlive: a device that vanishes without closing its connections (power cut, cable)
            # makes its SSH master, and so Ansible's tasks, give up instead of waiting forever.
            'ansible_ssh_common_args': '-F /dev/null -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'
                                       ' -o ServerAliveInterval=5 -o ServerAliveCountMax=3' % os.path.join(self.root, 'known_hosts'),
            'ansible_control_path_dir': os.path.join(self.root, 'cp'),
            'ansible_pipelining': True,
            'ansible_remote_tmp': self.remote_tmp,
            'edge_gpu_become': True,
            'ansible_become_method': 'sudo',
            'ansible_become_user': 'root',
        })
        with open(self.inventory, 'w') as handle:
            handle.write('# Written by tests/integration/ssh/sshfleet.py for slot %d.\n' % self.slot)
            yaml.safe_dump({'all': tree}, handle, default_flow_style=False, sort_keys=True)

    def wait_ready(self, hosts=None, timeout=20):
        """Wait until each device's sshd answers with its banner."""
        deadline = time.time() + timeout
        for host in hosts or self.hosts:
            while True:
                try:
                    with socket.create_connection((self.address(host), 22), timeout=2) as conn:
                        if conn.recv(8).startswith(b'SSH-'):
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise RuntimeError('sshd of %s did not answer: %s' % (host, self.sshd_log(host)))
                time.sleep(0.1)

    # Faults --------------------------------------------------------------------------
    def cut_command(self, host):
        """An argv that takes ``host`` off the network: its SSH daemon and sessions die, its link goes down."""
        # The link goes down only once the processes are gone, so that the controller's open SSH
        # connections see them close (a lost FIN would leave them hanging until ServerAlive gives up).
        return ['/bin/sh', '-c', 'ns=%s; ip netns pids $ns | xargs -r kill -KILL; '
                'while [ -n "$(ip netns pids $ns)" ]; do sleep 0.1; done; ip -n $ns link set eth0 down' % self.namespace(host)]

    def revive(self, host):
        """Bring a cut device back: link up, a fresh sshd."""
        _kill_namespace_processes(self.namespace(host))
        _run('ip', '-n', self.namespace(host), 'link', 'set', 'eth0', 'up')
        self._sshd(host)
        self.wait_ready([host])

    def close(self):
        if self._closed:
            return
        self._closed = True
        _teardown_slot(self.slot, self.root)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt('signal %d' % signum)


class terminate_cleans_up(object):
    """While active, SIGTERM unwinds like Ctrl-C, so the fleet's teardown still runs."""

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGTERM, _raise_interrupt)
        except ValueError:  # not the main thread: atexit and the next run's stale-slot cleanup remain
            self._old = None
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def main():
    """By hand: start a fleet, print its inventory path, and keep it up until Ctrl-C."""
    import argparse  # pylint: disable=import-outside-toplevel
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('hosts', nargs='*', default=list(DEFAULT_HOSTS))
    parser.add_argument('--nvidia-root', default=os.environ.get('EDGE_GPU_NVIDIA_ROOT'))
    args = parser.parse_args()
    with terminate_cleans_up(), SshFleet.start(args.hosts, nvidia_root=args.nvidia_root) as ssh_fleet:
        print('inventory: %s' % ssh_fleet.inventory)
        print('environment: %s' % ' '.join('%s=%s' % item for item in sorted(ssh_fleet.env.items())))
        for host in ssh_fleet.hosts:
            print('%s %s (namespace %s)' % (host, ssh_fleet.address(host), ssh_fleet.namespace(host)))
        sys.stdout.flush()
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == '__main__':
    main()
