# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""gpu_report.yml over the whole simulated fleet, one unreachable device and a drift fixture.

One ansible-playbook run (a module-scoped fixture) is shared by every test here. The fleet's
intent comes from examples/fleet's group_vars, with per-host overrides written by the test:
  * IoT Edge appliances get platform none (no manifest to compare), except edge-24, whose
    manifest was never deployed (drift: manifest);
  * the two-T4 devices (MPS on GPU 1, default active thread percentage 50) run NVIDIA's real
    MPS control daemon started by the test as converging would leave it (no drift), except
    edge-17 (no daemon: drift) and edge-18 (daemon at 100 %: drift);
  * edge-05 is asked for MPS on its one default-mode T4 (drift: compute mode and daemon);
  * edge-08 is asked for MPS with two whole-GPU workloads: its plan fails (an error, reached);
  * edge-07 has a misspelt variable, gpu_sharing_stratgy: the role's preflight refuses it (an error);
  * edge-gone is an SSH host on a closed loopback port (unreachable).
Expected values are read from the simulated device files, not from the code under test.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

import fleet  # pylint: disable=import-error
from harness import MPS_CONTROL, NVIDIA_ROOT, kill_daemons_under, mps_daemons_under, mps_query, recap, require_nvidia_userland  # pylint: disable=import-error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICES = os.path.join(ROOT, 'tests', 'sim', 'devices')
EXAMPLE_INVENTORY = os.path.join(ROOT, 'examples', 'fleet', 'inventory', 'hosts.yml')
BIN = os.path.dirname(sys.executable)
CHROMIUM = '/usr/bin/chromium'

GPU1_OF_DUAL = 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7'
UNREACHABLE = 'edge-gone'
IOTEDGE_HOSTS = ['edge-%02d' % n for n in list(range(1, 13)) + [21, 22, 23, 25]]
DAEMON_AT_50 = ['edge-13', 'edge-14', 'edge-15', 'edge-16']
DAEMON_AT_100 = 'edge-18'
DRIFTED = ['edge-05', 'edge-17', 'edge-18', 'edge-24']
FAILED = 'edge-08'
MISSPELT = 'edge-07'
# NVML's compute mode values (nvml.h), as gpu_info names them.
COMPUTE_MODES = {0: 'default', 2: 'prohibited', 3: 'exclusive_process'}
SAMPLE_SECONDS, SAMPLE_INTERVAL = 1, 0.5
PLAYBOOK_TIMEOUT = 600


def overrides():
    """Per-host variables (host level beats the example fleet's group_vars)."""
    hosts = dict((host, {'gpu_sharing_platform': 'none'}) for host in IOTEDGE_HOSTS)
    hosts['edge-05'].update(gpu_sharing_strategy='mps', gpu_sharing_workloads=[])
    hosts[FAILED].update(gpu_sharing_strategy='mps')
    hosts[MISSPELT].update(gpu_sharing_stratgy='mps')
    hosts[UNREACHABLE] = {
        'ansible_connection': 'ssh', 'ansible_host': '127.0.0.1', 'ansible_port': 1, 'ansible_user': 'nobody',
        'ansible_ssh_common_args': '-o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no '
                                   '-o UserKnownHostsFile=/dev/null',
        'ansible_python_interpreter': '/usr/bin/python3'}
    return {'all': {'hosts': hosts}}


def start_daemon(sim_root, host, percentage):
    """NVIDIA's real control daemon as converging the two-T4 device would leave it: GPU 1 only."""
    pipe = os.path.join(sim_root, host, 'mps', 'pipe')
    log = os.path.join(sim_root, host, 'mps', 'log')
    for path in (pipe, log):
        if not os.path.isdir(path):
            os.makedirs(path)
    env = dict(os.environ, CUDA_MPS_PIPE_DIRECTORY=pipe, CUDA_MPS_LOG_DIRECTORY=log, CUDA_VISIBLE_DEVICES=GPU1_OF_DUAL)
    subprocess.run([MPS_CONTROL, '-d'], env=env, check=True, timeout=10)
    assert mps_query(pipe, 'set_default_active_thread_percentage %d' % percentage) == (0, '%.1f' % percentage)


def snapshot(sim_root):
    """Everything a run could change on the devices (the daemons' own logs aside)."""
    files = {}
    for top, _dirs, names in os.walk(sim_root):
        if os.sep + os.path.join('mps', 'log') in top:
            continue
        for name in names:
            path = os.path.join(top, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            with open(path, 'rb') as handle:
                files[os.path.relpath(path, sim_root)] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return files, sorted(mps_daemons_under(sim_root))


class Report(object):
    """What the one run left: its output and recap, the report directory, the fleet."""

    def __init__(self, proc, workdir, sim_root, hosts, before, after, wall, asked):
        self.rc = proc.returncode
        self.output = proc.stdout
        self.workdir = workdir
        self.directory = os.path.join(workdir, 'report')
        self.sim_root = sim_root
        self.hosts = hosts
        self.before, self.after = before, after
        self.wall = wall
        self.asked = asked

    def path(self, name):
        return os.path.join(self.directory, name)

    def read(self, name):
        with open(self.path(name)) as handle:
            return handle.read()

    def json(self):
        return json.loads(self.read('report.json'))

    def device(self, name):
        found = [entry for entry in self.json()['devices'] if entry['name'] == name]
        assert len(found) == 1, (name, found)
        return found[0]

    def recap(self):
        return recap(self.output)


@pytest.fixture
def report():
    require_nvidia_userland()
    # A short path: the MPS pipe directories below it must fit a UNIX socket path.
    sim_root = tempfile.mkdtemp(prefix='egs-')
    workdir = tempfile.mkdtemp(prefix='egs-report-')
    try:
        hosts = fleet.create(sim_root, nvidia_root=NVIDIA_ROOT)
        for host in DAEMON_AT_50:
            start_daemon(sim_root, host, 50)
        start_daemon(sim_root, DAEMON_AT_100, 100)
        inventory = os.path.join(workdir, 'overrides.yml')
        with open(inventory, 'w') as handle:
            yaml.safe_dump(overrides(), handle)
        # What each device is asked for, as Ansible itself reads the three inventories.
        listing = subprocess.check_output([os.path.join(BIN, 'ansible-inventory'), '-i', fleet.INVENTORY, '-i', EXAMPLE_INVENTORY,
                                           '-i', inventory, '--list'], env=dict(os.environ, EDGE_GPU_SIM_ROOT=sim_root))
        asked = json.loads(listing)['_meta']['hostvars']
        before = snapshot(sim_root)
        started = time.time()
        # gpu_report_dir is relative: the report lands in the directory ansible-playbook runs in.
        command = [os.path.join(BIN, 'ansible-playbook'), '-f', '10', '-i', fleet.INVENTORY, '-i', EXAMPLE_INVENTORY,
                   '-i', inventory, '-e', json.dumps({'gpu_report_dir': 'report', 'gpu_report_sample_seconds': SAMPLE_SECONDS,
                                                      'gpu_report_sample_interval': SAMPLE_INTERVAL}),
                   'edge_gpu.sharing.gpu_report']
        env = dict(os.environ, EDGE_GPU_SIM_ROOT=sim_root, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')
        proc = subprocess.run(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False, timeout=PLAYBOOK_TIMEOUT)
        wall = time.time() - started
        yield Report(proc, workdir, sim_root, hosts, before, snapshot(sim_root), wall, asked)
    finally:
        kill_daemons_under(sim_root)
        shutil.rmtree(sim_root, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


def device_file(device):
    with open(os.path.join(DEVICES, device + '.json')) as handle:
        return json.load(handle)


def expected_memory(gpu):
    """``{total, used, free, reserved}`` as nvidia-smi shows it: the v2 form where the device has it."""
    if gpu.get('memory') is None:
        return None
    if 'memory_v2' in gpu and not (gpu.get('errors') or {}).get('nvmlDeviceGetMemoryInfo_v2'):
        memory = gpu['memory_v2']
        return {'total': memory['total'], 'used': memory['used'], 'free': memory['free'], 'reserved': memory['reserved']}
    memory = gpu['memory']
    return {'total': memory['total'], 'used': memory['used'], 'free': memory['free'], 'reserved': None}


def expected_processes(gpu):
    """``{pid: (type, used memory)}``: MPS clients are ``M+C``, other compute processes ``C``."""
    if gpu.get('compute_processes') is None and gpu.get('mps_processes') is None:
        return None
    clients = dict((proc['pid'], proc['used_memory']) for proc in gpu.get('mps_processes') or [])
    found = dict((proc['pid'], ('C', proc['used_memory'])) for proc in gpu.get('compute_processes') or [])
    found.update((pid, ('M+C', memory)) for pid, memory in clients.items())
    return found


def all_gpus(report):
    """``[(host, device file GPU dict)]`` for every reachable simulated GPU."""
    gpus = []
    for host, device in sorted(report.hosts.items()):
        gpus.extend((host, gpu) for gpu in device_file(device).get('gpus') or [])
    return gpus


# ---- the run ---------------------------------------------------------------------------------

def check_the_run_reports_every_device_and_changes_nothing(report):
    assert report.rc == 0, report.output[-4000:]
    recap = report.recap()
    assert sorted(recap) == sorted(list(report.hosts) + [UNREACHABLE])
    # The unreachable device stays in the play (its reading ignores unreachability), so the run succeeds.
    assert recap[UNREACHABLE]['ignored'] == 1
    assert not [host for host, counts in recap.items() if counts['failed'] or counts['unreachable']]
    # Nothing on any device changed: GPU state files, manifests, daemons (same pids, same settings).
    assert report.after == report.before
    for host in DAEMON_AT_50:
        assert mps_query(os.path.join(report.sim_root, host, 'mps', 'pipe'), 'get_default_active_thread_percentage') == (0, '50.0')
    assert not os.path.exists(os.path.join(report.sim_root, 'gitops'))
    # The files, written where ansible-playbook ran, and nothing else there.
    assert sorted(os.listdir(report.workdir)) == ['overrides.yml', 'report']
    assert sorted(os.listdir(report.directory)) == ['report.csv', 'report.html', 'report.json', 'report.schema.json']
    assert stat.S_IMODE(os.stat(report.directory).st_mode) == 0o755
    for name in os.listdir(report.directory):
        assert stat.S_IMODE(os.stat(report.path(name)).st_mode) == 0o644, name


def check_report_json_validates_against_its_schema(report):
    import jsonschema  # pylint: disable=import-outside-toplevel
    schema = json.loads(report.read('report.schema.json'))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(report.json())
    # report.json is the documented JSON form: sorted keys, two-space indent (and a final newline).
    assert report.read('report.json').rstrip('\n') == json.dumps(report.json(), indent=2, sort_keys=True)


def check_every_device_is_listed_with_its_reachability(report):
    data = report.json()
    names = [entry['name'] for entry in data['devices']]
    assert sorted(names) == sorted(list(report.hosts) + [UNREACHABLE])
    gone = report.device(UNREACHABLE)
    assert gone['reachable'] is False and gone['drift'] is None and gone['gpus'] == []
    failed = report.device(FAILED)
    assert failed['reachable'] is True
    assert 'sharing plan cannot be made' in failed['error'] and 'nbody2' in failed['error']
    misspelt = report.device(MISSPELT)
    assert misspelt['reachable'] is True and 'gpu_sharing_stratgy' in misspelt['error']
    # Its GPUs were read all the same.
    assert [gpu['uuid'] for gpu in misspelt['gpus']] == [gpu['uuid'] for gpu in device_file(report.hosts[MISSPELT])['gpus']]
    for name in names:
        if name not in (UNREACHABLE, FAILED, MISSPELT):
            assert report.device(name)['error'] is None, name
    summary = data['summary']
    assert summary['devices'] == len(report.hosts) + 1
    assert summary['unreachable'] == [UNREACHABLE] and summary['reachable'] == len(report.hosts)
    # The two gateways: no NVML library, and a driver that is not loaded.
    gpuless = sorted(host for host, device in report.hosts.items() if not device_file(device).get('gpus'))
    assert sorted(summary['gpuless']) == gpuless and len(gpuless) == 2
    assert summary['gpus'] == len(all_gpus(report))


def check_gpu_values_equal_the_simulated_devices(report):
    checked = 0
    for host, device in sorted(report.hosts.items()):
        entry = report.device(host)
        data = device_file(device)
        expected = data.get('gpus') or []
        assert len(entry['gpus']) == len(expected), host
        for index, (got, want) in enumerate(zip(entry['gpus'], expected)):
            where = '%s GPU %d' % (host, index)
            assert got['device'] == host and got['index'] == index, where
            assert got['name'] == want['name'] and got['uuid'] == want['uuid'], where
            assert got['pci_bus_id'] == want['pci_bus_id'], where
            assert got['memory'] == expected_memory(want), where
            assert got['compute_mode'] == (None if want['compute_mode'] is None else COMPUTE_MODES[want['compute_mode']]), where
            assert got['temperature'] == want['temperature'], where
            want_processes = expected_processes(want)
            if want_processes is None:
                assert got['processes'] is None, where
            else:
                assert dict((proc['pid'], (proc['type'], proc['used_memory'])) for proc in got['processes']) == want_processes, where
            # Sampled over the window: SAMPLE_SECONDS / SAMPLE_INTERVAL + 1 readings, each one the
            # device's utilization (or one of its series).
            if want['utilization'] is None:
                assert got['utilization_sampled'] is None, where
            else:
                series = want.get('utilization_series') or [want['utilization']]
                sampled = got['utilization_sampled']
                assert sampled['samples'] == int(SAMPLE_SECONDS / SAMPLE_INTERVAL) + 1, where
                for key in ('gpu', 'memory'):
                    values = [item[key] for item in series]
                    assert sampled[key]['min'] in values and sampled[key]['max'] in values, where
                    assert sampled[key]['min'] <= sampled[key]['mean'] <= sampled[key]['max'], where
            checked += 1
    assert checked == len(all_gpus(report)) > 25


def check_drift_is_flagged_exactly_for_the_devices_that_differ(report):
    data = report.json()
    # A device that could not be compared (its plan fails) counts as drifted, with the error as reason.
    drifted = sorted(entry['name'] for entry in data['devices'] if entry['drift'])
    assert drifted == sorted(DRIFTED + [FAILED, MISSPELT])
    assert sorted(data['summary']['drifted']) == drifted
    for name in DRIFTED:
        assert report.device(name)['drift_reasons'], name
    assert 'sharing plan cannot be made' in ' '.join(report.device(FAILED)['drift_reasons'])
    # Converging would start edge-17's daemon, change edge-18's default, and put edge-05's GPU
    # under MPS; edge-24's manifest was never deployed.
    assert 'mps' in ' '.join(report.device('edge-17')['drift_reasons']).lower()
    assert 'mps' in ' '.join(report.device('edge-18')['drift_reasons']).lower()
    assert 'manifest' in ' '.join(report.device('edge-24')['drift_reasons']).lower()
    for name in report.hosts:
        if name not in DRIFTED + [FAILED, MISSPELT]:
            assert report.device(name)['drift'] is False and report.device(name)['drift_reasons'] == [], name


def check_intended_sharing_is_what_the_inventory_asks(report):
    for host in report.hosts:
        asked, intended = report.asked[host], report.device(host)['intended']
        assert intended['strategy'] == asked.get('gpu_sharing_strategy', 'none'), host
        assert intended['platform'] == asked.get('gpu_sharing_platform', 'none'), host
        assert intended['workloads'] == len(asked.get('gpu_sharing_workloads', [])), host
        if host not in (FAILED, MISSPELT, 'edge-22', 'edge-23'):
            # Per GPU: the device's strategy unless gpu_sharing_gpu_strategies says otherwise.
            gpus = len(device_file(report.hosts[host])['gpus'])
            expected = dict((str(index), asked.get('gpu_sharing_strategy', 'none')) for index in range(gpus))
            expected.update((str(index), value) for index, value in asked.get('gpu_sharing_gpu_strategies', {}).items())
            assert intended['strategies'] == expected, host
    assert report.device('edge-13')['intended']['strategies'] == {'0': 'time_slicing', '1': 'mps'}


def check_csv_has_one_row_per_gpu(report):
    rows = list(csv.reader(io.StringIO(report.read('report.csv'))))
    header, body = rows[0], rows[1:]
    assert 'uuid' in header and 'device' in header
    gpus = all_gpus(report)
    assert len(body) == len(gpus)
    by_column = [dict(zip(header, row)) for row in body]
    assert sorted((row['device'], row['uuid']) for row in by_column) == sorted((host, gpu['uuid']) for host, gpu in gpus)


def check_the_play_ends_with_the_text_summary(report):
    tail = report.output[report.output.rindex('Show the fleet summary'):]
    for name in DRIFTED + [FAILED, MISSPELT, UNREACHABLE]:
        assert name in tail, name


# ---- the page in a browser -------------------------------------------------------------------

def chromium_missing():
    """Why the browser checks cannot run (``None`` when they can); an error where CI requires them."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    if os.environ.get('EDGE_GPU_REQUIRE_CHROMIUM') == '1':
        raise RuntimeError('%s is missing but EDGE_GPU_REQUIRE_CHROMIUM=1 (make chromium installs it)' % CHROMIUM)
    return '%s is not installed (make chromium installs it)' % CHROMIUM


def chromium(report, *args):
    profile = tempfile.mkdtemp(prefix='egs-chromium-')
    try:
        command = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                   '--disable-background-networking', '--disable-component-update', '--disable-sync',
                   '--user-data-dir=%s' % profile, '--enable-logging=stderr', '--v=0'] + list(args)
        return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              check=False, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def check_chromium_screenshots_the_page_without_console_messages(report):
    png = os.path.join(report.workdir, 'report.png')
    try:
        proc = chromium(report, '--screenshot=%s' % png, '--window-size=1400,2000', 'file://' + report.path('report.html'))
        assert proc.returncode == 0, proc.stderr[-3000:]
        with open(png, 'rb') as handle:
            content = handle.read()
    finally:
        if os.path.exists(png):
            os.remove(png)
    assert content.startswith(b'\x89PNG\r\n\x1a\n') and len(content) > 20000
    # Chromium logs every console message (errors included) of the page as a CONSOLE line.
    assert [line for line in proc.stderr.splitlines() if 'CONSOLE' in line] == []


def gpu_rows(dom):
    """``[[(attributes, text) per cell]]`` of the GPU table's body rows."""
    body = re.search(r'<table id="gpus"[^>]*>.*?<tbody[^>]*>(.*?)</tbody>', dom, re.S)
    assert body, dom[:2000]
    rows = re.findall(r'<tr class="gpu(?: [^"]*)?"[^>]*>(.*?)</tr>', body.group(1), re.S)
    return [re.findall(r'<td([^>]*)>(.*?)</td>', row, re.S) for row in rows]


def sort_key(cell):
    """A cell's sort value (``data-v``, else its text) as a number; ``None`` when unknown."""
    value = re.search(r'data-v="([^"]*)"', cell[0])
    value = value.group(1) if value else re.sub(r'<[^>]+>', '', cell[1])
    try:
        return float(value)
    except ValueError:
        return None


def check_the_table_has_one_row_per_gpu_and_sorts(report):
    proc = chromium(report, '--dump-dom', 'file://' + report.path('report.html'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = gpu_rows(proc.stdout)
    expected = sorted((host, gpu_index) for host, device in report.hosts.items()
                      for gpu_index in range(len(device_file(device).get('gpus') or [])))
    # Device and GPU index, the table's first two columns.
    assert sorted((row[0][1], int(row[1][1])) for row in rows) == expected
    heads = re.findall(r'<th data-col="([a-z_]+)"', proc.stdout)
    column = heads.index('util')

    # #sort=-util sorts on load: the highest mean utilization first, unknown values last.
    proc = chromium(report, '--dump-dom', 'file://' + report.path('report.html') + '#sort=-util')
    assert proc.returncode == 0, proc.stderr[-3000:]
    by_util = gpu_rows(proc.stdout)
    assert len(by_util) == len(expected)
    values = [sort_key(row[column]) for row in by_util]
    known = [value for value in values if value is not None]
    assert values == known + [None] * (len(values) - len(known))
    assert known == sorted(known, reverse=True) and len(set(known)) > 1
    assert [row[0][1] for row in by_util] != [row[0][1] for row in rows]


# ---- the role's drift entry point around a converge -------------------------------------------

def test_drift_entry_point_before_and_after_converging(fleet_hosts, playbook, sim_root):
    """On a fresh two-T4 device (no MPS daemon) and a fresh IoT Edge appliance (no manifest) the
    drift entry point finds the differences and changes nothing; the main entry point then runs in
    the same play, and afterwards drift finds nothing."""
    hosts = ['edge-13', 'edge-01']
    run = playbook('drift_then_converge.yml', args=['-i', EXAMPLE_INVENTORY], extra_vars={'target_hosts': ','.join(hosts)})
    assert run.rc == 0, run.output[-4000:]
    for host in hosts:
        result = run.result(host)
        assert result['before']['changed'] is True and result['after']['changed'] is False, (host, result)
        assert result['after']['differences'] == [], host
    assert run.result('edge-13')['before']['differences'] == ['mps']
    assert run.result('edge-01')['before']['differences'] == ['manifest']
    # The converge, not the comparison, started the daemon and wrote the manifest.
    assert len(mps_daemons_under(os.path.join(sim_root, 'edge-13', 'mps', 'pipe'))) == 1
    assert os.path.isfile(os.path.join(sim_root, 'edge-01', 'edge', 'deployment.json'))
    assert fleet_hosts['edge-13'] == 't4_dual'


# ---- one test, one playbook run (pytest-xdist would run a module-scoped fixture once per worker) --

CHECKS = (check_the_run_reports_every_device_and_changes_nothing, check_report_json_validates_against_its_schema,
          check_every_device_is_listed_with_its_reachability, check_gpu_values_equal_the_simulated_devices,
          check_drift_is_flagged_exactly_for_the_devices_that_differ, check_intended_sharing_is_what_the_inventory_asks,
          check_csv_has_one_row_per_gpu,
          check_the_play_ends_with_the_text_summary)
BROWSER_CHECKS = (check_chromium_screenshots_the_page_without_console_messages, check_the_table_has_one_row_per_gpu_and_sorts)


def test_gpu_report_over_the_simulated_fleet(report):
    assert report.rc == 0, report.output[-4000:]
    print('gpu_report.yml over %d devices: %.1f s' % (len(report.hosts) + 1, report.wall))
    missing = chromium_missing()
    failures = []
    for check in CHECKS + (() if missing else BROWSER_CHECKS):
        try:
            check(report)
        except AssertionError as exc:
            failures.append('%s: %s' % (check.__name__, exc))
    assert failures == [], '\n\n'.join(failures)
    if missing:
        pytest.skip('the report checks passed; the browser checks did not run: %s' % missing)
