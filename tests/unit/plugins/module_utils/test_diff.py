# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.edge_gpu.sharing.plugins.module_utils.diff import DifferenceTracker


def test_empty_tracker_is_not_changed():
    tracker = DifferenceTracker()
    assert not tracker.changed and tracker.differences == [] and len(tracker) == 0
    assert tracker.diff() == {'before': {}, 'after': {}}


def test_records_every_item_but_only_differences_change():
    tracker = DifferenceTracker().add('running', True, True).add('percentage', 20.0, 30.0)
    assert tracker.changed and tracker.differences == ['percentage']
    assert tracker.has_difference_for('percentage') and not tracker.has_difference_for('running')
    assert tracker.diff() == {'before': {'running': True, 'percentage': 20.0},
                              'after': {'running': True, 'percentage': 30.0}}


def test_equal_numbers_of_other_types_are_no_difference():
    assert not DifferenceTracker().add('percentage', 20, 20.0).changed


def test_a_name_added_again_replaces_its_record():
    tracker = DifferenceTracker().add('pid', 1, 2).add('pid', 2, 2)
    assert not tracker.changed and tracker.items() == [('pid', 2, 2)]


def test_add_dicts_takes_the_names_asked_missing_ones_as_none():
    tracker = DifferenceTracker().add_dicts({'a': 1, 'b': 2, 'ignored': 1}, {'a': 1, 'ignored': 9}, ['a', 'b'])
    assert tracker.differences == ['b'] and tracker.after == {'a': 1, 'b': None}


def test_merge_keeps_order_and_the_later_record():
    first = DifferenceTracker().add('x', 1, 1).add('y', 1, 2)
    second = DifferenceTracker().add('y', 1, 1).add('z', 0, 1)
    merged = first.merge(second)
    assert [name for name, _b, _a in merged.items()] == ['x', 'y', 'z']
    assert merged.differences == ['z']
