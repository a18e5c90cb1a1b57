# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import io
import json

import jsonschema
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edge_gpu.sharing.plugins.filter.fleet_report import FilterModule

MIB = 1024 * 1024
UUID = 'GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6'


def devices():
    gpu = {'index': 0, 'name': 'Tesla T4', 'uuid': UUID, 'pci_bus_id': '00000000:3B:00.0', 'compute_capability': '7.5',
           'memory': {'total': 15360 * MIB, 'used': 0, 'free': 15300 * MIB, 'reserved': 60 * MIB},
           'utilization': {'gpu': 0, 'memory': 0},
           'utilization_sampled': {'samples': 3, 'seconds': 2.0, 'gpu': {'min': 0, 'mean': 0.0, 'max': 0},
                                   'memory': {'min': 0, 'mean': 0.0, 'max': 0}},
           'compute_mode': 'default', 'persistence_mode': True, 'mig_mode': None, 'temperature': 34,
           'power_draw': 27.1, 'processes': []}
    return {
        'edge-01': {'reachable': True, 'error': None,
                    'gpu_info': {'available': True, 'driver_version': '535.261.03', 'cuda_driver_version': '12.2',
                                 'gpu_count': 1, 'gpus': [gpu], 'mps_daemon': {'running': False, 'pid': None}},
                    'intent': {'changed': True, 'differences': ['GPU 0 (%s)' % UUID], 'strategies': {'0': 'mps'},
                               'mps': None, 'plan': {'workloads': [], 'gpus': []}, 'summary': 'strategy mps'},
                    'vars': None},
        'edge-02': {'reachable': False, 'error': None, 'gpu_info': None, 'intent': None, 'vars': None},
    }


def test_filters_are_registered_under_their_documented_names():
    assert sorted(FilterModule().filters()) == ['fleet_report', 'fleet_report_files', 'fleet_report_text']


def test_report_files_and_text():
    filters = FilterModule().filters()
    report = filters['fleet_report'](devices(), '2026-11-26T12:00:00Z', 2)
    assert report['summary']['drifted'] == ['edge-01'] and report['summary']['unreachable'] == ['edge-02']
    files = filters['fleet_report_files'](report)
    assert sorted(files) == ['report.csv', 'report.html', 'report.json', 'report.schema.json']
    assert json.loads(files['report.json']) == report
    schema = json.loads(files['report.schema.json'])
    jsonschema.Draft202012Validator(schema).validate(json.loads(files['report.json']))
    rows = list(csv.reader(io.StringIO(files['report.csv'])))
    assert rows[0][0] == 'device' and [row[0] for row in rows[1:]] == ['edge-01']
    assert files['report.html'].count('<tr class="gpu') == 1
    # The files of a report read back from report.json are the same files.
    assert filters['fleet_report_files'](json.loads(files['report.json'])) == files
    lines = filters['fleet_report_text'](report)
    assert lines[0].startswith('2 device(s), 1 reached, 1 GPU(s) (mps 1)')
    assert ('  edge-01: GPU 0 (%s) (for mps): compute mode exclusive_process intended, actual default' % UUID) in lines


@pytest.mark.parametrize('name, args, message', [
    ('fleet_report', (['edge-01'],), "fleet_report: ['edge-01'] is not a dictionary of inventory name to device entry"),
    ('fleet_report', ({'edge-01': {'reachable': 'no'}},), "fleet_report: device edge-01: reachable must be true or false"),
    ('fleet_report', ({}, None, 'soon'), "fleet_report: sample_seconds must be 0 or a number of seconds from 0.1 to 3600, "
                                         "got 'soon'"),
    ('fleet_report_files', ({'devices': []},), "fleet_report_files: {'devices': []} is not a report"),
    ('fleet_report_text', ('report',), "fleet_report_text: 'report' is not a report"),
])
def test_bad_input_is_a_filter_error_naming_it(name, args, message):
    with pytest.raises(AnsibleFilterError) as raised:
        FilterModule().filters()[name](*args)
    assert message in str(raised.value)


def test_results_are_unsafe_so_device_strings_are_never_templated():
    """A process name or error message like ``{{ lookup('pipe', 'id') }}`` must stay text: before
    ansible-core 2.19 only values marked unsafe are safe from templating once kept in a fact."""
    from ansible.release import __version__
    from ansible.utils.unsafe_proxy import AnsibleUnsafe

    entries = devices()
    entries['edge-01']['error'] = "{{ lookup('pipe', 'id') }}"
    filters = FilterModule().filters()
    report = filters['fleet_report'](entries)
    files = filters['fleet_report_files'](report)
    lines = filters['fleet_report_text'](report)
    assert any("{{ lookup('pipe', 'id') }}" in line for line in lines)
    if tuple(int(part) for part in __version__.split('.')[:2]) < (2, 19):
        assert isinstance(report['devices'][0]['error'], AnsibleUnsafe)
        assert all(isinstance(content, AnsibleUnsafe) for content in files.values())
        assert all(isinstance(line, AnsibleUnsafe) for line in lines)


def test_a_report_with_wrong_types_inside_is_a_filter_error_not_a_traceback():
    filters = FilterModule().filters()
    report = filters['fleet_report'](devices())
    report['devices'][0]['gpus'][0]['memory']['used'] = '<b>lots</b>'
    with pytest.raises(AnsibleFilterError) as raised:
        filters['fleet_report_files'](report)
    assert str(raised.value).startswith('fleet_report_files: the report is not what edge_gpu.sharing.fleet_report '
                                        'returns (TypeError')
