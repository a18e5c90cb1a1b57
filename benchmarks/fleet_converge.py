# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a fleet run of site.yml costs, against ping and a hand-written playbook, measured in one run.

    .venv/bin/python benchmarks/fleet_converge.py [--repeat 3] [--forks 10]   (or: make bench)

Needs `make install fleet nvidia-userland` first. Lays out fresh simulated fleets (24 devices,
local connection, NVIDIA's real MPS control daemon) in a temporary directory and times, with the
same inventory, forks and settings (examples/fleet/ansible.cfg) for every variant:

  ping1 / ping3   a play running ansible.builtin.ping once / three times per device
  site_rerun      edge_gpu.sharing.site on a fleet it has already converged (changes nothing)
  site_full       edge_gpu.sharing.site on a fresh fleet
  base_rerun      benchmarks/baseline/converge.yml (the same job, hand-written) on a fleet it converged
  base_full       benchmarks/baseline/converge.yml on a fresh fleet

Each variant runs --repeat times, interleaved (the order rotates every round) to spread the
machine's noise; the medians and their ratios are printed. Every MPS daemon and directory the
script made is removed at the end, also when it fails.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'sim'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))

import fleet  # noqa: E402  (tests/sim/fleet.py lays out the simulated devices)
from harness import mps_daemons_under  # noqa: E402  (the daemons a run started, found by pipe directory)

BIN = os.path.join(REPO, '.venv', 'bin')
COLLECTIONS = os.path.join(REPO, 'build', 'collections')
NVIDIA_ROOT = os.path.join(REPO, 'build', 'nvidia')
INVENTORIES = [os.path.join(REPO, 'tests', 'sim', 'inventory.yml'),
               os.path.join(REPO, 'examples', 'fleet', 'inventory', 'hosts.yml')]
CONFIG = os.path.join(REPO, 'examples', 'fleet', 'ansible.cfg')
BASELINE = os.path.join(HERE, 'baseline', 'converge.yml')
SITE = 'edge_gpu.sharing.site'

PING_PLAY = """---
- name: Ping every device {count} time(s)
  hosts: all
  gather_facts: false
  tasks:
{tasks}"""
PING_TASK = """    - name: Ping {number}
      ansible.builtin.ping:
"""

RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def stop_daemons(root):
    """End the MPS daemons this script started under ``root`` (by pid), waiting for them to go."""
    pids = mps_daemons_under(root)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + 10
    while time.time() < deadline and mps_daemons_under(root):
        time.sleep(0.1)
    for pid in mps_daemons_under(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(pids)


class Bench(object):

    def __init__(self, workdir, forks):
        self.workdir = workdir
        self.forks = forks
        self.fleets = 0
        self.pings = {}
        for count in (1, 3):
            path = os.path.join(workdir, 'ping%d.yml' % count)
            with open(path, 'w') as handle:
                handle.write(PING_PLAY.format(count=count, tasks=''.join(
                    PING_TASK.format(number=number + 1) for number in range(count))))
            self.pings[count] = path

    def new_fleet(self):
        """A fresh simulated fleet in its own directory."""
        self.fleets += 1
        root = os.path.join(self.workdir, 'fleet%d' % self.fleets)
        with open(os.devnull, 'w') as quiet:
            saved, sys.stdout = sys.stdout, quiet
            try:
                fleet.create(root, nvidia_root=NVIDIA_ROOT)
            finally:
                sys.stdout = saved
        return root

    def drop_fleet(self, root):
        stop_daemons(root)
        shutil.rmtree(root, ignore_errors=True)

    def playbook(self, root, playbook, expect_changes=None):
        """Run ``playbook`` on the fleet under ``root``; returns its wall time in seconds."""
        env = dict(os.environ, EDGE_GPU_SIM_ROOT=root, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=CONFIG,
                   ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', PATH=os.pathsep.join([BIN, os.environ.get('PATH', '')]))
        command = [os.path.join(BIN, 'ansible-playbook'), '-f', str(self.forks)]
        for inventory in INVENTORIES:
            command += ['-i', inventory]
        command.append(playbook)
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=self.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        seconds = time.perf_counter() - start
        recap = RECAP.findall(proc.stdout)
        devices = [row for row in recap if row[0] != 'localhost']
        problem = None
        if proc.returncode != 0 or any(int(row[3]) or int(row[4]) for row in recap):
            problem = 'failed (rc %d)' % proc.returncode
        elif len(devices) != 24:
            problem = 'ran on %d devices, not 24' % len(devices)
        elif expect_changes is False and any(int(row[2]) for row in recap):
            problem = 'changed something on a re-run'
        elif expect_changes is True and not any(int(row[2]) for row in recap):
            problem = 'changed nothing on a fresh fleet'
        if problem:
            sys.stderr.write(proc.stdout[-6000:])
            raise SystemExit('%s %s' % (os.path.basename(playbook), problem))
        return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--repeat', type=int, default=3, help='runs per variant (default 3)')
    parser.add_argument('--forks', type=int, default=10, help='ansible-playbook -f (default 10)')
    args = parser.parse_args()
    for path in (os.path.join(BIN, 'ansible-playbook'), os.path.join(COLLECTIONS, 'ansible_collections', 'edge_gpu'),
                 os.path.join(NVIDIA_ROOT, 'bin', 'nvidia-cuda-mps-control')):
        if not os.path.exists(path):
            raise SystemExit('%s is missing: run `make install fleet nvidia-userland` first' % path)

    workdir = tempfile.mkdtemp(prefix='edge-gpu-bench-')
    try:
        bench = Bench(workdir, args.forks)
        # One fleet converged by site.yml and one by the baseline, for the no-change re-runs.
        site_fleet, base_fleet = bench.new_fleet(), bench.new_fleet()
        bench.playbook(site_fleet, SITE, expect_changes=True)
        bench.playbook(base_fleet, BASELINE, expect_changes=True)

        def full(playbook):
            root = bench.new_fleet()
            try:
                return bench.playbook(root, playbook, expect_changes=True)
            finally:
                bench.drop_fleet(root)

        variants = [
            ('ping1', lambda: bench.playbook(site_fleet, bench.pings[1])),
            ('ping3', lambda: bench.playbook(site_fleet, bench.pings[3])),
            ('site_rerun', lambda: bench.playbook(site_fleet, SITE, expect_changes=False)),
            ('base_rerun', lambda: bench.playbook(base_fleet, BASELINE, expect_changes=False)),
            ('site_full', lambda: full(SITE)),
            ('base_full', lambda: full(BASELINE)),
        ]
        times = dict((name, []) for name, _run in variants)
        for round_ in range(args.repeat):
            shift = round_ % len(variants)
            for name, run in variants[shift:] + variants[:shift]:
                times[name].append(run())
                sys.stderr.write('round %d/%d %-10s %6.1f s\n' % (round_ + 1, args.repeat, name, times[name][-1]))
    finally:
        stopped = stop_daemons(workdir)
        shutil.rmtree(workdir, ignore_errors=True)

    median = dict((name, statistics.median(values)) for name, values in times.items())
    print('24 simulated devices, forks %d, %d run(s) per variant, interleaved; %s' % (
        args.forks, args.repeat, os.path.relpath(CONFIG, REPO)))
    for name, _run in variants:
        print('  %-10s median %6.1f s   (%s)' % (name, median[name], ', '.join('%.1f' % value for value in times[name])))
    rows = [
        ('ping3 / ping1 (for scale)', median['ping3'] / median['ping1'], None),
        ('no-change re-run / 1-ping', median['site_rerun'] / median['ping1'], 2.0),
        ('site full converge / baseline full converge', median['site_full'] / median['base_full'], 0.5),
        ('site re-run / baseline re-run', median['site_rerun'] / median['base_rerun'], 0.5),
    ]
    for label, ratio, target in rows:
        verdict = '' if target is None else ('  (target <= %.1f: %s)' % (target, 'met' if ratio <= target else 'MISSED'))
        print('%-45s %5.2f%s' % (label, ratio, verdict))
    print('stopped %d MPS daemon(s); removed %s' % (stopped, workdir))


if __name__ == '__main__':
    main()
