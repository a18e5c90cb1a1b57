# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every ansible-core minor that meta/runtime.yml declares is one that `make test` runs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def minor(version):
    return tuple(int(part) for part in version.split('.')[:2])


def declared_floor():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        spec = yaml.safe_load(handle)['requires_ansible']
    found = re.match(r'^>=\s*(\d+\.\d+)(\.\d+)?$', spec)
    assert found, 'requires_ansible %r is not a plain ">=X.Y.Z" floor' % spec
    return minor(found.group(1))


def pinned():
    with open(os.path.join(ROOT, 'tests', 'requirements.txt')) as handle:
        for line in handle:
            if line.startswith('ansible-core=='):
                return minor(line.split('==', 1)[1].strip())
    raise AssertionError('tests/requirements.txt pins no ansible-core')


def extra_versions():
    with open(os.path.join(ROOT, 'tests', 'ci', 'ansible-core-versions.txt')) as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith('#')]


def test_every_declared_minor_is_tested():
    floor, top = declared_floor(), pinned()
    tested = sorted([minor(version) for version in extra_versions()] + [top])
    expected = [(floor[0], number) for number in range(floor[1], top[1] + 1)]
    assert floor[0] == top[0] == 2
    assert tested == expected, 'tested %s, declared %s..%s' % (tested, floor, top)


def test_older_versions_are_exact_pins():
    for version in extra_versions():
        assert re.match(r'^\d+\.\d+\.\d+$', version), version
