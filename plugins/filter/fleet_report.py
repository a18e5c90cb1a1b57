# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.edge_gpu.sharing.plugins.module_utils import fleet_report as model
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption
from ansible_collections.edge_gpu.sharing.plugins.module_utils.report_schema import SCHEMA


EXPECTED = {
    'fleet_report': 'the device entries are not what the edge_gpu.sharing.gpu_report playbook builds',
    'fleet_report_files': 'the report is not what edge_gpu.sharing.fleet_report returns',
    'fleet_report_text': 'the report is not what edge_gpu.sharing.fleet_report returns',
}


def _filter(function):
    """``function`` with the collection's errors as filter errors (a message, not a traceback).

    The result is marked unsafe: it holds strings the devices chose (process names, error
    messages), and ansible-core before 2.19 would template a ``{{ ... }}`` in them once the
    result is kept with ``set_fact`` and read again, on the controller.
    """
    def wrapped(*args, **kwargs):
        try:
            return wrap_var(function(*args, **kwargs))
        except InvalidOption as exc:
            raise AnsibleFilterError(str(exc))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # A value of the wrong type deeper than the checks look (a report edited by hand, say).
            raise AnsibleFilterError('%s: %s (%s: %s)' % (function.__name__, EXPECTED[function.__name__],
                                                          type(exc).__name__, exc))
    wrapped.__name__ = function.__name__
    wrapped.__doc__ = function.__doc__
    return wrapped


def fleet_report(devices, generated=None, sample_seconds=None):
    """The report data of every device (see fleet_report.yml)."""
    return model.build(devices, generated=generated, sample_seconds=sample_seconds)


def fleet_report_files(report):
    """File name -> content of the report directory (see fleet_report_files.yml)."""
    model.check_report(report, 'fleet_report_files')
    return {
        'report.html': model.render_html(report),
        'report.json': json.dumps(report, indent=2, sort_keys=True) + '\n',
        'report.csv': model.render_csv(report),
        'report.schema.json': json.dumps(SCHEMA, indent=2, sort_keys=True) + '\n',
    }


def fleet_report_text(report):
    """A few lines for the end of the play (see fleet_report_text.yml)."""
    return model.render_text(report)


class FilterModule(object):
    """The fleet GPU report: its data, its files and its text summary."""

    def filters(self):
        return {
            'fleet_report': _filter(fleet_report),
            'fleet_report_files': _filter(fleet_report_files),
            'fleet_report_text': _filter(fleet_report_text),
        }
