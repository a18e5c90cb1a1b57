# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: absolute_path
short_description: Check that a path is absolute and normalised, naming the variable when not
version_added: 0.1.0
author: Edge GPU maintainers (@edge-gpu)
description:
  - Returns the path unchanged when it is absolute and normalised (no C(..), C(.), C(//) or trailing
    C(/)) and holds no control character; fails otherwise with a message that names O(option) and
    the value. The roles check their path variables with it before anything changes, with the same
    rule the modules apply to their path options.
positional: option
options:
  _input:
    description: The path.
    type: str
    required: true
  option:
    description: The name of the variable or option, for the message.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Refuse a relative output directory before anything is written
  ansible.builtin.assert:
    that: (my_output_dir | edge_gpu.sharing.absolute_path('my_output_dir')) is string
'''

RETURN = r'''
_value:
  description: The path, unchanged.
  type: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption
from ansible_collections.edge_gpu.sharing.plugins.module_utils.units import absolute_path


def checked_path(value, option):
    try:
        return absolute_path(value, option)
    except InvalidOption as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """The collection's path rule as a filter."""

    def filters(self):
        return {'absolute_path': checked_path}
