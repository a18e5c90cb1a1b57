# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""site.yml and gpu_inventory.yml through ansible-runner, the engine AWX runs every job with.

The private data directory is laid out as AWX lays it out: the project (this repository's
playbooks) under project/, the inventory sources under inventory/, env/extravars, env/settings,
env/envvars and env/cmdline (limit, forks). The whole simulated fleet converges, then a re-run
changes nothing, then the GPU inventory reads them; the job events of each run are checked, and
no file under artifacts/ may hold any form of the secrets the inventory and extra vars carry.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os
import shutil
import subprocess
import sys

import yaml

from harness import require_nvidia_userland  # pylint: disable=import-error
from test_secrets_masked import forms_of  # pylint: disable=import-error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SIM_INVENTORY = os.path.join(ROOT, 'tests', 'sim', 'inventory.yml')
FLEET_INVENTORY = os.path.join(ROOT, 'examples', 'fleet', 'inventory')
IOTEDGE_HOST = 'edge-01'
# Secrets as AWX credentials hand them over (inventory variables, extra vars): what JSON and YAML
# escape, so that masking only the raw string would not be enough.
REGISTRY_PASSWORD = u'rg"Pw\\\u00e9\u00df\t!runner-1'
API_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.runner-token-7f3c9a.c2lnbmF0dXJl'
CONNECTION_STRING = 'HostName=hub-egs.azure-devices.net;DeviceId=edge-01;SharedAccessKey=c2VjcmV0LXJ1bm5lci1rZXk9'
FINAL_EVENTS = ('runner_on_ok', 'runner_on_failed', 'runner_on_skipped', 'runner_on_unreachable')
RUN_TIMEOUT = 300


def lay_out(private, sim_root, hosts):
    """A private data directory as AWX writes it for a job."""
    shutil.copytree(os.path.join(ROOT, 'playbooks'), os.path.join(private, 'project', 'playbooks'))
    inventory = os.path.join(private, 'inventory')
    shutil.copytree(FLEET_INVENTORY, inventory)
    shutil.copy(SIM_INVENTORY, os.path.join(inventory, 'sim.yml'))
    credentials = {'acr': {'address': 'acr.example.io', 'username': 'edge-user', 'password': REGISTRY_PASSWORD}}
    with open(os.path.join(inventory, 'secrets.yml'), 'w') as handle:
        yaml.safe_dump({'all': {'vars': {'k8s_auth_api_key': API_TOKEN},
                                'hosts': {IOTEDGE_HOST: {'gpu_sharing_registry_credentials': credentials}}}}, handle)
    env = os.path.join(private, 'env')
    os.makedirs(env)
    files = {
        'extravars': {'iothub_connection_string': CONNECTION_STRING},
        'settings': {'job_timeout': RUN_TIMEOUT, 'idle_timeout': 0, 'pexpect_timeout': 5},
        'envvars': {'EDGE_GPU_SIM_ROOT': sim_root, 'ANSIBLE_COLLECTIONS_PATH': os.environ['ANSIBLE_COLLECTIONS_PATH'],
                    'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_RETRY_FILES_ENABLED': '0'},
    }
    for name, data in files.items():
        with open(os.path.join(env, name), 'w') as handle:
            yaml.safe_dump(data, handle)
    with open(os.path.join(env, 'cmdline'), 'w') as handle:
        handle.write('--limit %s -f 10' % ','.join(hosts))


def runner(private, playbook, ident):
    """``ansible-runner run``; returns ``(status, rc, events)``."""
    proc = subprocess.run([os.path.join(BIN, 'ansible-runner'), 'run', private, '-p', playbook, '--ident', ident],
                          env=dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH']),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=RUN_TIMEOUT + 60, check=False)
    artifacts = os.path.join(private, 'artifacts', ident)
    with open(os.path.join(artifacts, 'status')) as handle:
        status = handle.read().strip()
    with open(os.path.join(artifacts, 'rc')) as handle:
        rc = int(handle.read())
    events = []
    for path in glob.glob(os.path.join(artifacts, 'job_events', '*.json')):
        with open(path) as handle:
            events.append(json.load(handle))
    events.sort(key=lambda event: event['counter'])
    assert status == 'successful' and rc == 0, proc.stdout[-5000:]
    return events


def final_events(events):
    """``{(host, task uuid): [event names]}`` of every task result."""
    results = {}
    for event in events:
        if event['event'] in FINAL_EVENTS:
            key = (event['event_data']['host'], event['event_data']['task_uuid'])
            results.setdefault(key, []).append(event['event'])
    return results


def counts(events):
    """Per host ok / changed / failures / skipped, counted from the task results."""
    totals = dict((name, {}) for name in ('ok', 'changed', 'failures', 'skipped', 'dark'))
    for event in events:
        name, data = event['event'], event['event_data']
        key = {'runner_on_ok': 'ok', 'runner_on_failed': 'failures', 'runner_on_skipped': 'skipped',
               'runner_on_unreachable': 'dark'}.get(name)
        if key is None or (name == 'runner_on_failed' and data.get('ignore_errors')):
            continue
        host = data['host']
        totals[key][host] = totals[key].get(host, 0) + 1
        if name == 'runner_on_ok' and data['res'].get('changed'):
            totals['changed'][host] = totals['changed'].get(host, 0) + 1
    return totals


def stats(events):
    last = [event for event in events if event['event'] == 'playbook_on_stats']
    assert len(last) == 1
    return last[0]['event_data']


def task_results(events, task):
    return dict((event['event_data']['host'], event) for event in events
                if event['event'] in FINAL_EVENTS and event['event_data']['task'] == task)


def check_run(events, hosts):
    """One result per device and task; the summary agrees with the task results."""
    results = final_events(events)
    assert results, 'no task results in the job events'
    assert sorted(set(host for host, _task in results) - set(['localhost'])) == hosts
    assert [key for key, names in results.items() if len(names) != 1] == []
    summary, counted = stats(events), counts(events)
    for key in ('ok', 'changed', 'failures', 'skipped', 'dark'):
        assert dict((h, n) for h, n in summary[key].items() if n) == counted[key], key
    assert summary['failures'] == {} and summary['dark'] == {}
    return summary


def test_site_and_inventory_through_ansible_runner(fleet_hosts, sim_root, tmp_path):
    require_nvidia_userland()
    # Every device of the simulated fleet (IoT Edge appliances, busy ones, two-T4 Kubernetes nodes
    # with MPS, MIG-enabled A100s, gateways without NVML, a Jetson), as a job over the fleet runs.
    hosts = sorted(fleet_hosts)
    private = str(tmp_path / 'awx-job')
    lay_out(private, sim_root, hosts)

    converge = runner(private, 'playbooks/site.yml', 'converge')
    summary = check_run(converge, hosts)
    # The device's own converge task ran once on each device and succeeded.
    converged = task_results(converge, "Converge the device's GPU sharing")
    assert sorted(converged) == hosts
    assert set(event['event'] for event in converged.values()) == set(['runner_on_ok'])
    # Devices asked for sharing were changed by it (the appliance's manifest, the MPS node's daemon).
    assert converged[IOTEDGE_HOST]['event_data']['res']['changed'] is True
    assert converged['edge-13']['event_data']['res']['changed'] is True
    assert summary['changed'].get(IOTEDGE_HOST) and summary['changed'].get('edge-13')
    # The password really reached the device's manifest (so looking for it below means something).
    with open(os.path.join(sim_root, IOTEDGE_HOST, 'edge', 'deployment.json')) as handle:
        manifest = json.load(handle)
    settings = manifest['modulesContent']['$edgeAgent']['properties.desired']['runtime']['settings']
    assert settings['registryCredentials']['acr']['password'] == REGISTRY_PASSWORD
    # The end-of-run summary task names every device once.
    lines = task_results(converge, 'One line per device')
    assert len(lines) == 1
    outcome = list(lines.values())[0]['event_data']['res']['msg']
    assert sorted(line.split(':')[0] for line in outcome) == hosts

    rerun = runner(private, 'playbooks/site.yml', 'rerun')
    summary = check_run(rerun, hosts)
    assert summary['changed'] == {} or not any(summary['changed'].values()), summary['changed']
    assert sorted(h for h, n in summary['ok'].items() if n and h != 'localhost') == hosts

    inventory = runner(private, 'playbooks/gpu_inventory.yml', 'inventory')
    check_run(inventory, hosts)
    read = task_results(inventory, 'Read every GPU through NVML (hosts without NVML report an empty list)')
    assert sorted(read) == hosts
    for host, event in read.items():
        with open(os.path.join(sim_root, host, 'nvml.json')) as handle:
            device = json.load(handle)
        usable = not device.get('init_error')
        gpus = event['event_data']['res']['ansible_facts']['edge_gpu_info']['gpus']
        assert len(gpus) == (len(device['gpus']) if usable else 0), host

    # No form of any secret in any file the runs left under artifacts/ (events, stdout, command...).
    forms = set()
    for secret in (REGISTRY_PASSWORD, API_TOKEN, CONNECTION_STRING):
        forms |= set(form.encode('utf-8') for form in forms_of(secret) if form)
    leaks = []
    for top, _dirs, names in os.walk(os.path.join(private, 'artifacts')):
        for name in names:
            with open(os.path.join(top, name), 'rb') as handle:
                data = handle.read()
            leaks += [(os.path.relpath(os.path.join(top, name), private), form) for form in forms if form in data]
    assert leaks == []
