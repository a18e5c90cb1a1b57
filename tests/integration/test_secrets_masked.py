# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A registry password never shows in ansible-playbook -vvv --diff, raw or escaped.

One run: iotedge_manifest (written, then changed, so --diff shows both texts), gpu_sharing and
the gpu_workloads role, each given the same credentials. The password holds what JSON and YAML
escape (a quote, a backslash, non-ASCII letters, a tab), so Ansible's own masking of the raw
string is not enough; the forms looked for are made here with json and PyYAML.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import yaml

PASSWORD = u'Qz"9\\vault\u00e9\u00df\tk\'#: end'


def forms_of(value):
    """The password as it can appear in text: raw, JSON- and YAML-escaped, JSON twice."""
    forms = set([value])
    for ensure_ascii in (True, False):
        once = json.dumps(value, ensure_ascii=ensure_ascii)[1:-1]
        forms.add(once)
        forms.add(json.dumps(once, ensure_ascii=ensure_ascii)[1:-1])
    for style in ('"', "'"):
        for unicode_ok in (True, False):
            text = yaml.safe_dump(value, default_style=style, allow_unicode=unicode_ok, width=10 ** 6)
            forms.add(text.strip().rstrip('.').strip()[1:-1])
    return forms


def test_password_masked_in_every_output_form(fleet_hosts, playbook, sim_root, tmp_path):
    secrets_dir = str(tmp_path / 'secrets')
    device_dest = os.path.join(sim_root, '{{ inventory_hostname }}', 'deployment.json')
    credentials = {'acr': {'address': 'acr.example.io', 'username': 'edge-user', 'password': PASSWORD}}
    run = playbook('secrets_masked.yml', args=('-vvv', '--diff'), extra_vars={
        'target_hosts': 'edge-02', 'secrets_dir': secrets_dir, 'gpu_workloads_registry_credentials': credentials,
        'gpu_workloads_iotedge_dest': device_dest})
    assert run.rc == 0, run.output[-5000:]
    # The password really went through every writer...
    written = [os.path.join(secrets_dir, 'edge-02-manifest.json'), os.path.join(secrets_dir, 'edge-02-converged.json'),
               os.path.join(sim_root, 'edge-02', 'deployment.json')]
    for path in written:
        with open(path) as handle:
            manifest = json.load(handle)
        settings = manifest['modulesContent']['$edgeAgent']['properties.desired']['runtime']['settings']
        assert settings['registryCredentials']['acr']['password'] == PASSWORD, path
        assert os.stat(path).st_mode & 0o777 == 0o600, path
    # ...and the output shows the diffs, but no form of it.
    assert '--- before' in run.output and 'nbody2' in run.output
    leaked = sorted(form for form in forms_of(PASSWORD) if form in run.output)
    assert leaked == [], [run.output[max(0, run.output.index(form) - 300):run.output.index(form) + 100]
                          for form in leaked]
