# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one place a module turns the collection's errors into a task failure.

Every module's ``main`` builds its ``AnsibleModule`` and hands its work to ``run_module``,
so every failure has ``msg`` and the same machine-readable ``error_kind``, and every module's
``no_log`` values are also masked in their JSON- and YAML-escaped forms.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import EdgeGpuError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import serialize


def run_module(module, work):
    """``work(module)`` returns the result dict; an ``EdgeGpuError`` fails the task with its kind."""
    # A JSON- or YAML-escaped password is still a password: mask those forms too.
    for value in list(module.no_log_values):
        module.no_log_values.update(serialize.escaped_forms(value))
    try:
        result = work(module)
    except EdgeGpuError as exc:
        module.fail_json(msg=to_native(exc), error_kind=exc.kind)
    module.exit_json(**result)
