# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""No command line of the collection goes through a shell.

Python under ``plugins/`` is read as a syntax tree: ``run_command`` must get a list (never a
string literal, a ``%``/``+``/``.format``/f-string built string), and ``use_unsafe_shell``,
``shell=True``, ``os.system``, ``os.popen`` and ``subprocess`` are not used at all. The YAML of
roles and playbooks must not use the ``shell`` (or ``raw``) module. The checker is tried on
planted bad code first, so a checker that finds nothing cannot pass by accident.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FORBIDDEN_CALLS = {'system', 'popen', 'spawnl', 'spawnlp', 'spawnv', 'spawnvp', 'getoutput', 'getstatusoutput'}
SHELL_MODULES = re.compile(r'^\s*-?\s*(ansible\.builtin\.|ansible\.legacy\.)?(shell|raw)\s*:', re.MULTILINE)


def _is_string_built(node):
    if isinstance(node, (ast.JoinedStr,)):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return _is_string_built(node.left) or _is_string_built(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ('format', 'join'):
        return _is_string_built(node.func.value)
    return False


def problems_in_python(source, name='<source>'):
    """Every shell string in ``source``, as ``name:line: what``."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or '']
            if any(module.split('.')[0] in ('subprocess', 'commands', 'pty') for module in modules):
                found.append('%s:%d: imports %s' % (name, node.lineno, ', '.join(modules)))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', '')
        owner = getattr(func.value, 'id', '') if isinstance(func, ast.Attribute) else ''
        for keyword in node.keywords:
            if keyword.arg in ('use_unsafe_shell', 'shell') and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                found.append('%s:%d: %s=%s' % (name, node.lineno, keyword.arg, ast.dump(keyword.value)))
        if owner in ('os', 'commands', 'subprocess') and called in FORBIDDEN_CALLS:
            found.append('%s:%d: %s.%s()' % (name, node.lineno, owner, called))
        if owner == 'subprocess':
            found.append('%s:%d: subprocess.%s()' % (name, node.lineno, called))
        if called == 'run_command':
            args = node.args[:1] or [k.value for k in node.keywords if k.arg == 'args']
            if args and _is_string_built(args[0]):
                found.append('%s:%d: run_command with a string' % (name, node.lineno))
    return found


def problems_in_yaml(text, name='<yaml>'):
    return ['%s:%d: the %s module' % (name, text.count('\n', 0, match.start()) + 1, match.group(2))
            for match in SHELL_MODULES.finditer(text)]


def sources(top, suffixes):
    for directory, _dirs, names in os.walk(os.path.join(ROOT, top)):
        for name in sorted(names):
            if name.endswith(suffixes):
                yield os.path.join(directory, name)


@pytest.mark.parametrize('bad', [
    "module.run_command('nvidia-smi -q')",
    "module.run_command('%s -d' % binary)",
    "module.run_command(binary + ' -d')",
    "module.run_command('{0} -d'.format(binary))",
    "module.run_command(f'{binary} -d')",
    "module.run_command(args='nvidia-smi -q')",
    "module.run_command([binary], use_unsafe_shell=True)",
    "module.run_command(cmd, use_unsafe_shell=flag)",
    "subprocess.call(['ls'], shell=True)",
    "import subprocess",
    "from subprocess import run",
    "os.system('ls')",
    "os.popen('ls')",
])
def test_the_checker_finds_planted_shell_strings(bad):
    assert problems_in_python(bad)


@pytest.mark.parametrize('good', [
    "module.run_command([binary, '-d'])",
    "self.run_command(self._command(), data=command)",
    "module.run_command(cmd, use_unsafe_shell=False)",
])
def test_the_checker_passes_argument_lists(good):
    assert problems_in_python(good) == []


@pytest.mark.parametrize('bad', [
    "- name: x\n  ansible.builtin.shell: echo hi\n",
    "- shell: echo hi\n",
    "    - name: y\n      raw: echo hi\n",
])
def test_the_checker_finds_planted_shell_tasks(bad):
    assert problems_in_yaml(bad)


def test_no_shell_strings_in_plugins():
    found = []
    paths = list(sources('plugins', ('.py',)))
    assert len(paths) > 10
    for path in paths:
        with open(path) as handle:
            found.extend(problems_in_python(handle.read(), os.path.relpath(path, ROOT)))
    assert found == []


def test_no_shell_tasks_in_roles_and_playbooks():
    found = []
    paths = list(sources('roles', ('.yml', '.yaml'))) + list(sources('playbooks', ('.yml', '.yaml')))
    assert len(paths) > 10
    for path in paths:
        with open(path) as handle:
            found.extend(problems_in_yaml(handle.read(), os.path.relpath(path, ROOT)))
    assert found == []
