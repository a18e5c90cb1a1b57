# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""owner/group/mode in every module that writes files, and secrets masked in every output form."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest
import yaml

from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import serialize
from ansible_collections.edge_gpu.sharing.plugins.modules import device_plugin_config, iotedge_manifest, k8s_gpu_workload

GPUS = [{'index': 0, 'uuid': 'GPU-5f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8', 'name': 'Tesla T4', 'compute_capability': '7.5',
         'memory': {'total': 16106127360}, 'mig_mode': None}]
WORKLOADS = [{'name': 'detector', 'image': 'registry.local/detector:1', 'gpu_percentage': 20}]
# A password with every character JSON or YAML escapes.
PASSWORD = u'Pa"ss\\w\u00f6rd\'\t#: x'


def planning(**more):
    return dict(gpus=GPUS, sharing='mps', workloads=WORKLOADS, **more)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


MODULES = {
    'iotedge_manifest': (iotedge_manifest, lambda dest: planning(dest=dest), 'deployment.json', 0o600),
    'k8s_gpu_workload': (k8s_gpu_workload, lambda dest: planning(dest=dest), 'objects.yaml', 0o644),
    'device_plugin_config': (device_plugin_config, lambda dest: dict(replicas=2, dest=dest), 'config.yaml', 0o644),
}


@pytest.mark.parametrize('name', sorted(MODULES))
def test_mode_drift_is_put_right_and_reported(run_module, tmp_path, name):
    module, make, filename, default = MODULES[name]
    dest = str(tmp_path / filename)
    failed, result = run_module(module, make(dest))
    assert not failed and mode_of(dest) == default
    os.chmod(dest, 0o666)
    failed, result = run_module(module, dict(make(dest), mode='0640', _ansible_diff=True), check_mode=True)
    assert not failed and result['changed'] is True and mode_of(dest) == 0o666
    failed, result = run_module(module, dict(make(dest), mode='0640', _ansible_diff=True))
    assert not failed and result['changed'] is True and mode_of(dest) == 0o640
    assert '0666' in json.dumps(result['diff']) and '0640' in json.dumps(result['diff'])
    failed, result = run_module(module, dict(make(dest), mode='0640'))
    assert not failed and result['changed'] is False


def test_iotedge_manifest_made_0644_goes_back_to_0600_without_a_mode_option(run_module, tmp_path):
    dest = str(tmp_path / 'deployment.json')
    run_module(iotedge_manifest, planning(dest=dest))
    os.chmod(dest, 0o644)
    failed, result = run_module(iotedge_manifest, planning(dest=dest))
    assert not failed and result['changed'] is True and mode_of(dest) == 0o600


@pytest.mark.parametrize('name', sorted(MODULES))
@pytest.mark.parametrize('option, value', [('mode', 'u=rw'), ('mode', '0999'), ('owner', 'no-such-user-x'),
                                           ('group', 'no-such-group-x')])
def test_bad_file_options_are_refused_before_anything_is_written(run_module, tmp_path, name, option, value):
    module, make, filename, _default = MODULES[name]
    dest = str(tmp_path / 'out' / filename)
    failed, result = run_module(module, dict(make(dest), **{option: value}))
    assert failed and option in result['msg'] and value in result['msg']
    assert result['error_kind'] == 'invalid_option'
    assert not os.path.exists(os.path.dirname(dest))


def test_iotedge_manifest_refuses_a_mode_others_can_read(run_module, tmp_path):
    dest = str(tmp_path / 'deployment.json')
    failed, result = run_module(iotedge_manifest, planning(dest=dest, mode='0644'))
    assert failed and 'mode' in result['msg'] and '0644' in result['msg'] and dest in result['msg']
    assert not os.path.exists(dest)


@pytest.mark.skipif(os.geteuid() != 0, reason='changing a file owner needs root')
def test_k8s_directory_files_get_the_owner(run_module, tmp_path):
    dest = str(tmp_path / 'objects')
    failed, result = run_module(k8s_gpu_workload, planning(dest=dest, owner='nobody', group='nogroup'))
    assert not failed
    path = os.path.join(dest, 'detector.yaml')
    assert os.stat(path).st_uid == 65534
    os.chown(path, 0, 0)
    failed, result = run_module(k8s_gpu_workload, planning(dest=dest, owner='nobody', group='nogroup'))
    assert result['changed'] is True and os.stat(path).st_uid == 65534


def test_a_symlink_dest_fails_naming_it(run_module, tmp_path):
    target = tmp_path / 'elsewhere'
    target.write_text(u'keep')
    link = tmp_path / 'deployment.json'
    link.symlink_to(target)
    failed, result = run_module(iotedge_manifest, planning(dest=str(link)))
    assert failed and str(link) in result['msg'] and result['error_kind'] == 'file'
    assert target.read_text() == u'keep'


# ---- secrets -----------------------------------------------------------------------------

def every_form(value):
    """The password as text can hold it, built with json and yaml here (not with the code under
    test): raw, JSON-escaped (ASCII or not, once and twice), YAML double- and single-quoted."""
    forms = set([value])
    for ensure_ascii in (True, False):
        once = json.dumps(value, ensure_ascii=ensure_ascii)[1:-1]
        forms.update((once, json.dumps(once, ensure_ascii=ensure_ascii)[1:-1]))
    for style in ('"', "'"):
        for unicode_ok in (True, False):
            text = yaml.safe_dump(value, default_style=style, allow_unicode=unicode_ok, width=10 ** 6)
            forms.add(text.strip().rstrip('.').strip()[1:-1])
    return forms


def test_escaped_forms_cover_json_and_yaml_dumps():
    forms = every_form(PASSWORD)
    for text in (json.dumps({'p': PASSWORD}), json.dumps({'p': PASSWORD}, ensure_ascii=False),
                 json.dumps(json.dumps({'p': PASSWORD})), serialize.dump_json({'p': PASSWORD}),
                 serialize.dump_yaml({'p': PASSWORD}), yaml.safe_dump({'p': PASSWORD})):
        assert any(form in text for form in forms), text


def test_iotedge_password_masked_in_result_and_diff_in_every_form(run_module, tmp_path):
    dest = str(tmp_path / 'deployment.json')
    creds = {'myacr': {'address': 'myacr.azurecr.io', 'username': 'edge', 'password': PASSWORD}}
    failed, result = run_module(iotedge_manifest, planning(dest=dest, registry_credentials=creds, _ansible_diff=True))
    assert not failed and result['changed'] is True
    with open(dest) as handle:
        assert json.load(handle)['modulesContent']['$edgeAgent']['properties.desired']['runtime']['settings'][
            'registryCredentials']['myacr']['password'] == PASSWORD
    output = json.dumps(result) + json.dumps(result, ensure_ascii=False)
    for form in every_form(PASSWORD):
        assert form not in output, form
    assert 'registry.local/detector:1' in output


def test_prune_leaves_symbolic_links_alone(run_module, tmp_path):
    dest = tmp_path / 'objects'
    failed, result = run_module(k8s_gpu_workload, planning(dest=str(dest)))
    assert not failed
    (dest / 'old.yaml').symlink_to(dest / 'detector.yaml')
    failed, result = run_module(k8s_gpu_workload, dict(planning(dest=str(dest)), workloads=[dict(WORKLOADS[0], name='other')]))
    assert not failed and os.path.islink(str(dest / 'old.yaml'))
    assert str(dest / 'detector.yaml') in result['removed'] and str(dest / 'old.yaml') not in result['removed']
