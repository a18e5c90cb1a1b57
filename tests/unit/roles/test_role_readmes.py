# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Each role's README documents exactly the variables of its meta/argument_specs.yml.

The README's "## Variables" table has one row per option: the name in backticks, the type
(``list of dict`` where the spec gives ``elements``), the default as inline YAML in backticks
(``unset`` where the spec has none) and a description that names every choice. A variable
missing from the README, one the spec does not know, or a type or default that differs fails
here, so the READMEs cannot drift from the specs Ansible validates against.

Also: every role refuses ``<role>_*`` variables it does not know (typos), first thing in its
preflight, by comparing with the options of its meta/argument_specs.yml; and its README says so.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = os.path.join(ROOT, 'roles')
ROLE_NAMES = sorted(name for name in os.listdir(ROLES) if os.path.isfile(os.path.join(ROLES, name, 'meta', 'argument_specs.yml')))

CELL_SEPARATOR = re.compile(r'(?<!\\)\|')
UNSET = 'unset'


def load_yaml(*parts):
    with open(os.path.join(*parts)) as handle:
        return yaml.safe_load(handle)


def spec_options(role):
    return load_yaml(ROLES, role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']


def variables_table(role):
    """``{name: {'type', 'default', 'description', 'line'}}`` from the README's ``## Variables`` table."""
    with open(os.path.join(ROLES, role, 'README.md')) as handle:
        lines = handle.read().splitlines()
    assert '## Variables' in lines, 'roles/%s/README.md has no "## Variables" section' % role
    rows = {}
    in_section = False
    for number, line in enumerate(lines, 1):
        if line.startswith('## '):
            in_section = line == '## Variables'
            continue
        if not in_section or not line.startswith('|'):
            continue
        cells = [cell.strip() for cell in CELL_SEPARATOR.split(line.strip())[1:-1]]
        assert len(cells) == 4, 'README.md:%d: a variables row has 4 cells (name, type, default, description): %s' % (number, line)
        if cells[0] == 'Variable' or set(cells[0]) <= set('-: '):
            continue
        name = re.fullmatch(r'`([a-z0-9_]+)`', cells[0])
        assert name, 'README.md:%d: the variable name is not in backticks: %s' % (number, cells[0])
        assert name.group(1) not in rows, 'README.md:%d: %s is listed twice' % (number, name.group(1))
        rows[name.group(1)] = {'type': cells[1], 'default': cells[2], 'description': cells[3], 'line': number}
    assert rows, 'roles/%s/README.md: the "## Variables" section has no table rows' % role
    return rows


def spec_type(option):
    return option['type'] + (' of %s' % option['elements'] if 'elements' in option else '')


def readme_default(cell):
    """The README's default cell as data: ``unset``, or inline YAML in backticks."""
    if cell == UNSET:
        return UNSET
    match = re.fullmatch(r'`(.*)`', cell)
    assert match, 'a default is `inline YAML` or %s, got %r' % (UNSET, cell)
    return yaml.safe_load(match.group(1))


def test_every_role_is_checked():
    assert set(ROLE_NAMES) >= {'gpu_sharing', 'gpu_workloads', 'k8s_gpu_sharing', 'mps'}


@pytest.mark.parametrize('role', ROLE_NAMES)
def test_readme_lists_exactly_the_spec_variables(role):
    documented = set(variables_table(role))
    specified = set(spec_options(role))
    assert sorted(specified - documented) == [], 'roles/%s/README.md does not document these variables' % role
    assert sorted(documented - specified) == [], 'roles/%s/README.md documents variables the argument spec does not have' % role


@pytest.mark.parametrize('role', ROLE_NAMES)
def test_readme_types_defaults_and_choices_match_the_spec(role):
    rows = variables_table(role)
    problems = []
    for name, option in spec_options(role).items():
        row = rows.get(name)
        if row is None:
            continue  # reported by the test above
        where = 'roles/%s/README.md:%d %s' % (role, row['line'], name)
        if row['type'] != spec_type(option):
            problems.append('%s: type %r, the spec says %r' % (where, row['type'], spec_type(option)))
        expected = option.get('default', UNSET)
        try:
            documented = readme_default(row['default'])
        except (AssertionError, yaml.YAMLError) as exc:
            problems.append('%s: %s' % (where, exc))
        else:
            # YAML's 1 == True must not make `true` pass for a default of 1.
            if documented != expected or type(documented) is not type(expected):
                problems.append('%s: default %s, the spec says %r' % (where, row['default'], expected))
        for choice in option.get('choices', []):
            if '`%s`' % choice not in row['description']:
                problems.append('%s: the description does not name the choice `%s`' % (where, choice))
    assert problems == []


@pytest.mark.parametrize('role', ROLE_NAMES)
def test_readme_has_an_example_playbook_using_the_role(role):
    with open(os.path.join(ROLES, role, 'README.md')) as handle:
        text = handle.read()
    assert '## Example' in text
    assert 'role: edge_gpu.sharing.%s' % role in text


@pytest.mark.parametrize('role', ROLE_NAMES)
def test_every_role_refuses_unknown_variables_first(role):
    """The first preflight task compares the role's variables with its argument spec's options."""
    with open(os.path.join(ROLES, role, 'tasks', 'preflight.yml')) as handle:
        first = yaml.safe_load(handle)[0]
    assert first['name'] == 'Refuse unknown %s_* variables' % role
    known = first['vars']['__%s_known' % role]
    assert "role_path ~ '/meta/argument_specs.yml'" in known and '.argument_specs.main.options' in known
    assert "query('ansible.builtin.varnames', '^%s_')" % role in first['vars']['__%s_unknown' % role]
    with open(os.path.join(ROLES, role, 'README.md')) as handle:
        assert 'unknown `%s_*` variable' % role in handle.read(), 'roles/%s/README.md does not say it' % role


def test_readme_default_parsing():
    assert readme_default('unset') == UNSET
    assert readme_default('`""`') == ''
    assert readme_default('`{}`') == {}
    assert readme_default('`true`') is True
    assert readme_default('`10`') == 10
    assert readme_default('`/tmp/nvidia-mps`') == '/tmp/nvidia-mps'
    with pytest.raises(AssertionError):
        readme_default('10')
