# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.edge_gpu.sharing.plugins.module_utils import report
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption


def _filter(function):
    """``function`` with the collection's errors as filter errors (a message, not a traceback)."""
    def wrapped(value):
        try:
            return function(value)
        except InvalidOption as exc:
            raise AnsibleFilterError(str(exc))
    wrapped.__name__ = function.__name__
    wrapped.__doc__ = function.__doc__
    return wrapped


class FilterModule(object):
    """Summaries of edge_gpu.sharing.gpu_info results."""

    def filters(self):
        return {
            'gpu_summary': _filter(report.device_lines),
            'gpu_fleet_summary': _filter(report.fleet_summary),
        }
