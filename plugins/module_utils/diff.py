# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One way for every module to say what differs: ``changed`` and ``--diff`` from the same records.

Plain Python, no Ansible imports. A module records each thing it compared as
``(name, before, after)``; the tracker then says whether anything differs and gives the
``{'before': ..., 'after': ...}`` that Ansible shows for ``--diff``, keyed by the names.
What to record is the caller's choice: every field of a state (so ``--diff`` shows it whole)
or only the items that change (so ``--diff`` lists only those).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class DifferenceTracker(object):
    """Records ``(name, before, after)``, in the order added; a name added again replaces its record."""

    def __init__(self):
        self._items = []

    def add(self, name, before, after):
        self._items = [item for item in self._items if item[0] != name]
        self._items.append((name, before, after))
        return self

    def add_dicts(self, before, after, names):
        """Record ``names`` from two dictionaries (a missing key counts as ``None``)."""
        for name in names:
            self.add(name, before.get(name), after.get(name))
        return self

    def merge(self, other):
        for name, before, after in other.items():
            self.add(name, before, after)
        return self

    def items(self):
        """The records as ``(name, before, after)`` tuples."""
        return list(self._items)

    def __len__(self):
        return len(self._items)

    @property
    def differences(self):
        """The names whose ``before`` and ``after`` differ, in the order added."""
        return [name for name, before, after in self._items if before != after]

    @property
    def changed(self):
        return bool(self.differences)

    def has_difference_for(self, name):
        return name in self.differences

    @property
    def before(self):
        return dict((name, before) for name, before, _after in self._items)

    @property
    def after(self):
        return dict((name, after) for name, _before, after in self._items)

    def diff(self):
        """What Ansible shows for ``--diff``: every record, keyed by its name."""
        return {'before': self.before, 'after': self.after}
