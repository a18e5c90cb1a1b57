# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Destinations the file system refuses, through ansible-playbook, in one run.

The test makes each fault itself: a read-only tmpfs, a full 64 KiB tmpfs, a directory of root's
that the module (run as ``nobody`` through ``setpriv`` and pipelining) cannot write, another
user's file in a sticky world-writable directory, and a symbolic link at ``dest``. Every module
that writes files meets each of them; each case must fail with a message naming the file and the
reason, leave the old file as it was (content, mode, owner) and leave no temporary file or backup.
The simulated device's NVML state must be unchanged by ``gpu_sharing``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest
import yaml

import fleet  # pylint: disable=import-error
from harness import MPS_CONTROL, NVIDIA_ROOT, kill_daemons_under  # pylint: disable=import-error

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
SYSTEM_PYTHON = '/usr/bin/python3'
SETPRIV = shutil.which('setpriv')
NOBODY = 65534
OLD = b'{"old": true}\n'

GPUS = [{'index': 0, 'uuid': 'GPU-5f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8', 'name': 'Tesla T4',
         'compute_capability': '7.5', 'memory': {'total': 16106127360}, 'mig_mode': None}]
WORKLOADS = [{'name': 'detector', 'image': 'registry.local/detector:1', 'gpu': 0}]


def _can_mount():
    if os.geteuid() != 0:
        return 'needs root to mount test file systems'
    probe = tempfile.mkdtemp(prefix='egs-mount-')
    try:
        if subprocess.call(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0:
            return 'cannot mount a tmpfs here (no CAP_SYS_ADMIN?)'
        subprocess.call(['umount', probe])
        return None
    finally:
        os.rmdir(probe)


SKIP = _can_mount()
pytestmark = pytest.mark.skipif(SKIP is not None, reason=SKIP or '')


def put(path, data=OLD, mode=0o644, owner=None):
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, mode)
    if owner is not None:
        os.lchown(path, owner, owner)


def snapshot(directory):
    """Every entry under ``directory``: content (for files), link target, mode and owner."""
    seen = {}
    for parent, dirs, names in os.walk(directory):
        for name in dirs + names:
            path = os.path.join(parent, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                content = os.readlink(path)
            elif stat.S_ISREG(info.st_mode) and name != 'filler':
                with open(path, 'rb') as handle:
                    content = handle.read()
            else:
                content = None
            seen[os.path.relpath(path, directory)] = (content, stat.S_IMODE(info.st_mode), info.st_uid)
    return seen


class Faults(object):
    """The faulty destinations, made under one base directory; ``close`` unmounts them."""

    def __init__(self, base):
        self.base = base
        self.mounts = []
        os.chmod(base, 0o755)
        self.ro = self._tmpfs('ro', '1m')
        self.full = self._tmpfs('full', '64k')
        for top in (self.ro, self.full):
            put(os.path.join(top, 'deployment.json'), mode=0o600)
            put(os.path.join(top, 'config.yaml'))
            put(os.path.join(top, 'gs-deployment.json'), mode=0o600)
            os.mkdir(os.path.join(top, 'k8s'))
            put(os.path.join(top, 'k8s', 'detector.yaml'))
        subprocess.check_call(['mount', '-o', 'remount,ro', self.ro])
        self._fill(self.full)
        # A directory of root's, and root's files in it, for the module running as nobody.
        self.rootdir = self._dir('rootdir', 0o755)
        put(os.path.join(self.rootdir, 'deployment.json'), mode=0o600)
        put(os.path.join(self.rootdir, 'config.yaml'))
        # /tmp-like: sticky and world-writable, with nobody's file and a link to root's file.
        self.sticky = self._dir('sticky', 0o1777)
        put(os.path.join(self.sticky, 'theirs.json'), mode=0o600, owner=NOBODY)
        put(os.path.join(self.sticky, 'theirs.yaml'), owner=NOBODY)
        self.target = os.path.join(self.base, 'root-only.json')
        put(self.target, b'root only\n', mode=0o600)
        os.symlink(self.target, os.path.join(self.sticky, 'link.json'))
        # nobody's file in an ordinary directory: root replaces it and keeps its owner.
        self.foreign = self._dir('foreign', 0o755)
        put(os.path.join(self.foreign, 'deployment.json'), mode=0o644, owner=NOBODY)

    def _dir(self, name, mode):
        path = os.path.join(self.base, name)
        os.mkdir(path)
        os.chmod(path, mode)
        return path

    def _tmpfs(self, name, size):
        path = self._dir(name, 0o755)
        subprocess.check_call(['mount', '-t', 'tmpfs', '-o', 'size=%s,mode=0755' % size, 'tmpfs', path])
        self.mounts.append(path)
        return path

    @staticmethod
    def _fill(top):
        with open(os.path.join(top, 'filler'), 'wb', buffering=0) as handle:
            try:
                while True:
                    handle.write(b'\0' * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        # Small writes too, until not even a byte fits.
        with open(os.path.join(top, 'filler'), 'ab', buffering=0) as handle:
            try:
                while True:
                    handle.write(b'\0')
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

    def close(self):
        for path in reversed(self.mounts):
            subprocess.call(['umount', '-l', path])


def nobody_interpreter(base):
    """A Python for ansible_python_interpreter that runs as nobody (modules come through stdin)."""
    path = os.path.join(base, 'python-as-nobody')
    with open(path, 'w') as handle:
        handle.write('#!/bin/sh\nexec %s --reuid=%d --regid=%d --clear-groups %s "$@"\n'
                     % (SETPRIV, NOBODY, NOBODY, SYSTEM_PYTHON))
    os.chmod(path, 0o755)
    return path


def iotedge(dest, **more):
    return dict(gpus=GPUS, sharing='time_slicing', workloads=WORKLOADS, dest=dest, **more)


def k8s(dest, **more):
    return dict(gpus=GPUS, sharing='time_slicing', workloads=WORKLOADS, dest=dest, prune=False, **more)


def plugin(dest, **more):
    return dict(replicas=4, dest=dest, **more)


def sharing(dest):
    return dict(strategy='none', platform='iotedge', workloads=WORKLOADS, iotedge_dest=dest,
                registry_credentials={'acr': {'address': 'acr.example', 'username': 'edge-user', 'password': 'not-shown-1'}})


def cases(faults):
    """``(id, host, module, args, words the message must hold (None: must succeed), directory)``."""
    ro, full, rootdir, sticky = faults.ro, faults.full, faults.rootdir, faults.sticky
    join = os.path.join
    return [
        ('ro-iotedge', 'edge-01', 'iotedge_manifest', iotedge(join(ro, 'deployment.json')), ['read-only file system'], ro),
        ('ro-iotedge-new', 'edge-01', 'iotedge_manifest', iotedge(join(ro, 'new', 'm.json')), ['read-only file system'], ro),
        ('ro-k8s-dir', 'edge-01', 'k8s_gpu_workload', k8s(join(ro, 'k8s')), ['read-only file system'], ro),
        ('ro-plugin-backup', 'edge-01', 'device_plugin_config', plugin(join(ro, 'config.yaml'), backup=True),
         ['read-only file system'], ro),
        ('ro-mode-only', 'edge-01', 'device_plugin_config', plugin(join(ro, 'k8s', 'detector.yaml'), mode='0600'),
         ['read-only file system'], ro),
        ('ro-gpu-sharing', 'edge-01', 'gpu_sharing', sharing(join(ro, 'gs-deployment.json')), ['read-only file system'], ro),
        ('full-iotedge', 'edge-01', 'iotedge_manifest', iotedge(join(full, 'deployment.json')), ['no space left'], full),
        ('full-k8s-file', 'edge-01', 'k8s_gpu_workload', k8s(join(full, 'k8s', 'all.yaml')), ['no space left'], full),
        ('full-plugin-backup', 'edge-01', 'device_plugin_config', plugin(join(full, 'config.yaml'), backup=True),
         ['no space left'], full),
        ('full-gpu-sharing', 'edge-01', 'gpu_sharing', sharing(join(full, 'gs-deployment.json')), ['no space left'], full),
        ('sticky-theirs', 'edge-01', 'iotedge_manifest', iotedge(join(sticky, 'theirs.json')),
         ['owned by nobody', 'sticky'], sticky),
        ('sticky-theirs-plugin', 'edge-01', 'device_plugin_config', plugin(join(sticky, 'theirs.yaml')),
         ['owned by nobody', 'sticky'], sticky),
        ('sticky-link', 'edge-01', 'iotedge_manifest', iotedge(join(sticky, 'link.json')), ['symbolic link'], sticky),
        ('sticky-link-gpu-sharing', 'edge-01', 'gpu_sharing', sharing(join(sticky, 'link.json')), ['symbolic link'], sticky),
        ('nobody-new-in-roots-dir', 'nobody-01', 'iotedge_manifest', iotedge(join(rootdir, 'new.json')),
         ['permission denied'], rootdir),
        ('nobody-replace-roots-file', 'nobody-01', 'iotedge_manifest', iotedge(join(rootdir, 'deployment.json')),
         ['permission denied'], rootdir),
        ('nobody-backup', 'nobody-01', 'device_plugin_config', plugin(join(rootdir, 'config.yaml'), backup=True),
         ['permission denied'], rootdir),
        ('nobody-k8s-subdir', 'nobody-01', 'k8s_gpu_workload', k8s(join(rootdir, 'k8s')), ['permission denied'], rootdir),
        ('root-replaces-nobodys-file', 'edge-01', 'iotedge_manifest', iotedge(join(faults.foreign, 'deployment.json')),
         None, faults.foreign),
    ]


@pytest.fixture(scope='module')
def outcome():
    """Lay out the fleet and the faults, run the one playbook; yields what the tests read."""
    base = tempfile.mkdtemp(prefix='egs-dst-')
    sim_root = tempfile.mkdtemp(prefix='egs-')
    faults = None
    try:
        faults = Faults(base)
        fleet.create(sim_root, nvidia_root=NVIDIA_ROOT if os.path.exists(MPS_CONTROL) else None)
        nvml_before = open(os.path.join(sim_root, 'edge-01', 'nvml.json')).read()
        all_cases = cases(faults)
        before = dict((case[0], snapshot(case[5])) for case in all_cases)
        per_host = {}
        for _id, host, module, args, _words, _directory in all_cases:
            per_host.setdefault(host, {}).setdefault(module, []).append(args)
        inventory = os.path.join(base, 'nobody.yml')
        hosts = {'nobody-01': {'ansible_connection': 'local', 'ansible_pipelining': True,
                               'ansible_python_interpreter': nobody_interpreter(base)}}
        with open(inventory, 'w') as handle:
            yaml.safe_dump({'all': {'hosts': hosts}}, handle)
        results_dir = os.path.join(base, 'results')
        os.mkdir(results_dir)
        command = [os.path.join(BIN, 'ansible-playbook'), '-i', fleet.INVENTORY, '-i', inventory,
                   '-e', json.dumps({'results_dir': results_dir, 'target': 'edge-01,nobody-01', 'cases': per_host}),
                   os.path.join(HERE, 'playbooks', 'destination_faults.yml')]
        env = dict(os.environ, EDGE_GPU_SIM_ROOT=sim_root, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')
        proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False, timeout=300)
        assert proc.returncode == 0, proc.stdout
        saved = {}
        for host in per_host:
            with open(os.path.join(results_dir, host + '.json')) as handle:
                saved[host] = json.load(handle)
        results = {}
        counters = {}
        for case_id, host, module, _args, _words, _directory in all_cases:
            index = counters.get((host, module), 0)
            counters[(host, module)] = index + 1
            results[case_id] = saved[host][module][index]
        after = dict((case[0], snapshot(case[5])) for case in all_cases)
        nvml_after = open(os.path.join(sim_root, 'edge-01', 'nvml.json')).read()
        yield {'cases': dict((case[0], case) for case in all_cases), 'results': results, 'before': before,
               'after': after, 'nvml': (nvml_before, nvml_after), 'output': proc.stdout, 'faults': faults}
    finally:
        kill_daemons_under(sim_root)
        if faults is not None:
            faults.close()
        shutil.rmtree(sim_root, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def problems_of(outcome, case_id):
    """What is wrong with one refused destination's outcome (empty: all as it must be)."""
    _id, _host, _module, args, words, _directory = outcome['cases'][case_id]
    result = outcome['results'][case_id]
    message = result.get('msg', '')
    dest = args.get('dest') or args.get('iotedge_dest')
    problems = []
    if result.get('failed') is not True or result.get('error_kind') != 'file':
        problems.append('did not fail with error_kind file: %r' % (result,))
    if 'Traceback' in message or 'MODULE FAILURE' in message:
        problems.append('crashed: %s' % message)
    if dest not in message and os.path.dirname(dest) not in message:
        problems.append('message does not name %s: %s' % (dest, message))
    problems.extend('message lacks %r: %s' % (word, message) for word in words if word not in message.lower())
    # Old files as they were (content, mode, owner), nothing new: no temp files, no backups.
    if outcome['after'][case_id] != outcome['before'][case_id]:
        problems.append('the directory changed: %r -> %r' % (outcome['before'][case_id], outcome['after'][case_id]))
    # (The loop's own 'item' echoes the task's arguments; the module's output must not.)
    if 'not-shown-1' in json.dumps(dict((key, value) for key, value in result.items() if key != 'item')):
        problems.append('the registry password is in the result')
    return ['%s: %s' % (case_id, problem) for problem in problems]


# One test, one playbook run: pytest-xdist would run a module-scoped fixture once per worker.
def test_refused_destinations_fail_clearly_and_change_nothing(outcome):
    refused = [case_id for case_id, case in sorted(outcome['cases'].items()) if case[4] is not None]
    assert len(refused) == 18
    problems = []
    for case_id in refused:
        problems.extend(problems_of(outcome, case_id))
    assert problems == [], '\n'.join(problems)

    # gpu_sharing failed at the manifest and left the simulated GPUs as they were.
    before, after = outcome['nvml']
    assert json.loads(before) == json.loads(after)

    # The link was refused, not followed: its target is untouched.
    with open(outcome['faults'].target, 'rb') as handle:
        assert handle.read() == b'root only\n'
    assert stat.S_IMODE(os.stat(outcome['faults'].target).st_mode) == 0o600

    # Outside sticky directories root replaces another user's file and keeps its owner; the
    # manifest holds credentials, so it is 0600 whatever mode it had.
    result = outcome['results']['root-replaces-nobodys-file']
    assert result.get('failed') is not True and result['changed'] is True, result
    info = os.stat(os.path.join(outcome['faults'].foreign, 'deployment.json'))
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o600, NOBODY)
    assert sorted(outcome['after']['root-replaces-nobodys-file']) == ['deployment.json']
