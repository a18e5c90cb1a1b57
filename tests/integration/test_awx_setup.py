# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/awx_setup.yml (the installed edge_gpu.sharing.awx_setup) without an AWX server.

- its syntax check passes (awx.awx comes from the pinned ansible package);
- with awx_setup_render_dir it writes the payloads it would send and contacts nothing: the
  objects, and the three job templates with the surveys shipped in the collection;
- bad settings fail before anything is created, each named with its value;
- pointed at a closed loopback port, it fails at the first API call and no secret (token,
  password, credential inputs) appears in the output, even at -vvv;
- the IoT Hub credential type is rendered as its data file has it (the injector template untouched), a
  credential of it with its input names only, attached to the job templates;
- the converge survey's answers, passed as AWX passes them (extra variables, check mode as the
  string 'true'), run site.yml in check mode on the devices the host pattern names, changing nothing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import socket
import stat
import subprocess
import sys

import yaml

from harness import mps_daemons_under, require_nvidia_userland  # pylint: disable=import-error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
AWX_SETUP = 'edge_gpu.sharing.awx_setup'
EXAMPLE_INVENTORY = os.path.join(ROOT, 'examples', 'fleet', 'inventory', 'hosts.yml')
SETTINGS = {'awx_setup_project_scm_url': 'https://git.example.com/fleet/edge-gpu.git',
            'awx_setup_ee_image': 'registry.example.com/edge-gpu/ee:1.0'}
SECRETS = {'awx_setup_controller_oauthtoken': 'tok-Ydq3kZ81-never-shown',
           'awx_setup_controller_password': 'pw-Hn2r\u00e9"\\x-never-shown',
           'awx_setup_machine_credential_inputs': {'username': 'edge', 'ssh_key_data': 'KEY-9f8e7d-never-shown',
                                                   'become_password': 'become-5c4b3a-never-shown'},
           'awx_setup_iothub_credential_inputs': {
               'connection_string': 'HostName=hub.example.net;SharedAccessKeyName=edge-gpu-deploy;SharedAccessKey=SAK-71e2-never-shown='}}
CREDENTIAL_TYPE = os.path.join(ROOT, 'playbooks', 'awx', 'credential_types', 'iothub.yml')


def ansible_playbook(args, extra_vars, cwd=None, timeout=300):
    command = [os.path.join(BIN, 'ansible-playbook'), '-e', json.dumps(extra_vars)] + list(args)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')
    return subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False, timeout=timeout)


def installed_surveys():
    """The survey files as the installed collection (on ANSIBLE_COLLECTIONS_PATH) ships them."""
    paths = [os.path.join(location, 'ansible_collections', 'edge_gpu', 'sharing')
             for location in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if location]
    path = [candidate for candidate in paths if os.path.isdir(candidate)][0]
    surveys = os.path.join(path, 'playbooks', 'awx', 'surveys')
    result = {}
    for name in os.listdir(surveys):
        with open(os.path.join(surveys, name)) as handle:
            result[name] = yaml.safe_load(handle)
    return result


def test_syntax_check():
    # As installed, and as the file of a checkout (an AWX project of this repository).
    for playbook in (AWX_SETUP, os.path.join(ROOT, 'playbooks', 'awx_setup.yml')):
        proc = ansible_playbook(['--syntax-check', playbook], SETTINGS)
        assert proc.returncode == 0, proc.stdout[-3000:]


def test_render_writes_the_payloads_and_contacts_nothing(tmp_path):
    out = tmp_path / 'payloads'
    variables = dict(SETTINGS, awx_setup_render_dir=str(out), awx_setup_job_slice_count=4,
                     awx_setup_instance_groups=['edge-exec-eu', 'edge-exec-us'], awx_setup_machine_credential='edge devices',
                     awx_setup_machine_credential_inputs=SECRETS['awx_setup_machine_credential_inputs'],
                     awx_setup_iothub_credential='IoT Hub plant 1',
                     awx_setup_iothub_credential_inputs=SECRETS['awx_setup_iothub_credential_inputs'],
                     # Were it to contact anything, this would fail the run (a closed port).
                     awx_setup_controller_host='https://127.0.0.1:%d' % closed_port())
    proc = ansible_playbook([AWX_SETUP], variables)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with open(str(out / 'awx_setup.json')) as handle:
        payload = json.load(handle)
    text = json.dumps(payload)
    for secret in ('KEY-9f8e7d', 'become-5c4b3a', 'SAK-71e2'):
        assert secret not in text and secret not in proc.stdout

    assert payload['project']['scm_url'] == SETTINGS['awx_setup_project_scm_url']
    assert payload['execution_environment']['image'] == SETTINGS['awx_setup_ee_image']
    assert payload['inventory_source']['source'] == 'scm'
    assert payload['inventory_source']['source_project'] == payload['project']['name']
    assert payload['inventory_source']['inventory'] == payload['inventory']['name']
    assert payload['machine_credential']['credential_type'] == 'Machine'
    assert sorted(payload['machine_credential']['inputs']) == ['become_password', 'ssh_key_data', 'username']
    # The IoT Hub credential type exactly as the data file has it: its injector is the controller's
    # template, passed through untouched (not rendered by Ansible).
    with open(CREDENTIAL_TYPE) as handle:
        assert payload['iothub_credential_type'] == yaml.safe_load(handle)
    assert payload['iothub_credential_type']['injectors']['env'] == {'IOTHUB_CONNECTION_STRING': '{{ connection_string }}'}
    assert payload['iothub_credential'] == {'name': 'IoT Hub plant 1', 'organization': payload['organization']['name'],
                                            'credential_type': payload['iothub_credential_type']['name'],
                                            'inputs': {'connection_string': '$encrypted$'}}

    templates = dict((template['playbook'], []) for template in payload['job_templates'])
    for template in payload['job_templates']:
        templates[template['playbook']].append(template)
    assert sorted(templates) == ['playbooks/gpu_report.yml', 'playbooks/site.yml']
    surveys = installed_surveys()
    by_job_type = dict((template['job_type'], template) for template in templates['playbooks/site.yml'])
    converge, dry_run = by_job_type['run'], by_job_type['check']
    report, = templates['playbooks/gpu_report.yml']
    assert converge['survey_spec'] == surveys['converge.yml']
    assert dry_run['survey_spec'] == surveys['dry_run.yml']
    assert report['survey_spec'] == surveys['gpu_report.yml']
    for template in (converge, dry_run, report):
        assert template['survey_enabled'] is True and template['ask_limit_on_launch'] is True
        assert template['execution_environment'] == payload['execution_environment']['name']
        assert template['inventory'] == payload['inventory']['name']
        assert template['project'] == payload['project']['name']
        assert template['instance_groups'] == ['edge-exec-eu', 'edge-exec-us']
        assert template['credentials'] == ['edge devices', 'IoT Hub plant 1']
    assert dry_run['diff_mode'] is True
    # The fleet is sliced across execution nodes for site.yml; the report is one job (one report).
    assert (converge['job_slice_count'], dry_run['job_slice_count'], report['job_slice_count']) == (4, 4, 1)
    assert report['ask_job_slice_count_on_launch'] is False
    # Two converges at once on one device would fight; dry runs and reports may overlap.
    assert (converge['allow_simultaneous'], dry_run['allow_simultaneous']) == (False, True)


def test_bad_settings_fail_before_anything_is_created(tmp_path):
    out = tmp_path / 'payloads'
    variables = {'awx_setup_project_scm_url': '', 'awx_setup_ee_pull': 'sometimes', 'awx_setup_job_slice_count': 0,
                 'awx_setup_forks': 'many', 'awx_setup_instance_groups': 'edge-exec-eu',
                 'awx_setup_machine_credential_inputs': {'username': 'edge'}, 'awx_setup_render_dir': str(out),
                 'awx_setup_iothub_credential_inputs': {'connection_string': ''}}
    proc = ansible_playbook([AWX_SETUP], variables)
    assert proc.returncode == 2, proc.stdout[-3000:]
    for message in ('awx_setup_project_scm_url is required', 'awx_setup_ee_image is required',
                    'awx_setup_ee_pull must be always, missing or never (got sometimes)',
                    'awx_setup_job_slice_count must be a whole number of at least 1 (got 0)',
                    'awx_setup_forks must be a whole number (got many)',
                    'awx_setup_instance_groups must be a list of instance group names (got edge-exec-eu)',
                    'awx_setup_machine_credential_inputs needs awx_setup_machine_credential',
                    'awx_setup_iothub_credential_inputs must be a dict with one non-empty connection_string',
                    'awx_setup_iothub_credential_inputs needs awx_setup_iothub_credential'):
        assert message in proc.stdout, message
    assert not out.exists()


def closed_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_unreachable_controller_fails_without_showing_secrets():
    variables = dict(SETTINGS, awx_setup_controller_host='https://127.0.0.1:%d' % closed_port(),
                     awx_setup_controller_username='admin', awx_setup_validate_certs=False,
                     awx_setup_machine_credential='edge devices', awx_setup_iothub_credential='IoT Hub plant 1',
                     awx_setup_request_timeout=5, **SECRETS)
    proc = ansible_playbook(['-vvv', AWX_SETUP], variables)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert 'TASK [Organization]' in proc.stdout and 'TASK [Project]' not in proc.stdout
    assert 'Connection refused' in proc.stdout or 'connect' in proc.stdout.lower(), proc.stdout[-3000:]
    for secret in ('tok-Ydq3kZ81', 'pw-Hn2r', 'KEY-9f8e7d', 'become-5c4b3a', 'SAK-71e2'):
        assert secret not in proc.stdout, secret


def device_state(sim_root, hosts):
    """The devices' files (the fake NVML's state included) and their MPS daemons."""
    files = {}
    for host in hosts:
        for top, _dirs, names in os.walk(os.path.join(sim_root, host)):
            for name in names:
                path = os.path.join(top, name)
                if stat.S_ISREG(os.lstat(path).st_mode):
                    with open(path, 'rb') as handle:
                        files[path] = handle.read()
    return files, sorted(mps_daemons_under(sim_root))


def test_converge_survey_check_mode_answer_changes_nothing(fleet_hosts, playbook, sim_root):
    require_nvidia_userland()
    with open(os.path.join(ROOT, 'playbooks', 'awx', 'surveys', 'converge.yml')) as handle:
        survey = yaml.safe_load(handle)
    # What AWX sends when the operator keeps every default but answers check mode 'true' and
    # names two devices: a two-T4 device MPS would be enabled on, and an IoT Edge appliance.
    answers = dict((question['variable'], question['default']) for question in survey['spec'] if 'default' in question)
    answers.update(edge_gpu_check_mode='true', target_hosts='edge-13:edge-01')
    before = device_state(sim_root, fleet_hosts)
    run = playbook('edge_gpu.sharing.site', extra_vars=answers, args=['-i', EXAMPLE_INVENTORY])
    assert run.rc == 0, run.output[-3000:]
    counts = run.recap()
    assert sorted(counts) == ['edge-01', 'edge-13']
    # The converge is predicted (changed), and nothing on any device changed.
    assert counts['edge-13']['changed'] >= 1 and counts['edge-13']['failed'] == 0
    assert device_state(sim_root, fleet_hosts) == before
