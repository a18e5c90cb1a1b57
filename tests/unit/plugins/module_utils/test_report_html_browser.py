# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The report page's sorting, run by headless Chromium (``--dump-dom`` after ``#sort=...``).

Skipped, naming the reason, where the distribution's ``chromium`` is not installed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import shutil
import subprocess

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import fleet_report

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason='chromium is not installed (Debian package chromium)')
UUID = 'GPU-%08x-0000-4000-8000-000000000000'


def gpu(number, utilization, temperature):
    return {'index': 0, 'name': 'Tesla T4', 'uuid': UUID % number, 'pci_bus_id': None, 'compute_capability': '7.5',
            'memory': None, 'utilization': None if utilization is None else {'gpu': utilization, 'memory': 1},
            'utilization_sampled': None, 'compute_mode': 'default', 'persistence_mode': True, 'mig_mode': None,
            'temperature': temperature, 'power_draw': None, 'processes': []}


def page(tmp_path):
    # Utilization 9, 10, unknown and 80: numbers must not sort as text ("10" < "80" < "9").
    readings = {'edge-a': (9, 70), 'edge-b': (10, 35), 'edge-c': (None, 50), 'edge-d': (80, 41)}
    devices = dict((name, {'reachable': True, 'error': None, 'intent': None, 'vars': None, 'gpu_info': {
        'available': True, 'gpus': [gpu(number, *readings[name])], 'mps_daemon': None}})
        for number, name in enumerate(sorted(readings)))
    path = tmp_path / 'report.html'
    path.write_text(fleet_report.render_html(fleet_report.build(devices)), encoding='utf-8')
    return path


def order(path, fragment):
    """The device names of the GPU rows, in the order the browser shows them; the page must log
    nothing to the console (an error, a refused fetch, a log line)."""
    done = subprocess.run([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                           '--enable-logging=stderr', '--v=0', '--dump-dom', 'file://%s%s' % (path, fragment)],
                          capture_output=True, text=True, timeout=120, check=True)
    assert [line for line in done.stderr.splitlines() if ':CONSOLE' in line] == []
    return re.findall(r'<tr class="gpu[^"]*"><td>([^<]*)</td>', done.stdout)


def test_sort_on_load_from_the_address(tmp_path):
    path = page(tmp_path)
    assert order(path, '') == ['edge-a', 'edge-b', 'edge-c', 'edge-d']
    assert order(path, '#sort=util') == ['edge-a', 'edge-b', 'edge-d', 'edge-c']
    assert order(path, '#sort=-util') == ['edge-d', 'edge-b', 'edge-a', 'edge-c']
    assert order(path, '#sort=-device') == ['edge-d', 'edge-c', 'edge-b', 'edge-a']
    assert order(path, '#sort=nothing') == ['edge-a', 'edge-b', 'edge-c', 'edge-d']
