# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""execution-environment.yml: ``ansible-builder create`` makes a build context (no container
runtime) that holds the collection's tarball, and the Python packages the image would get cover
every package the collection's plugins import.

What the plugins import is read from their source (ast) and mapped to distribution names
through this virtualenv's installed packages; what the image gets is what ansible-builder's own
introspection script (from the context) finds in the collections the context installs, plus
ansible-core's own requirements.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import glob
import os
import re
import subprocess
import sys
import tarfile

import yaml

try:
    from importlib import metadata
except ImportError:  # Python < 3.8 has no importlib.metadata; the venv is 3.11
    metadata = None

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
PLUGINS = os.path.join(ROOT, 'plugins')
THIS = ('edge_gpu', 'sharing')


def normalize(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def requirement_name(line):
    """The distribution a requirements line names (``nvidia-ml-py>=12  # from ...`` -> nvidia-ml-py)."""
    line = line.split('#', 1)[0].strip()
    match = re.match(r'[A-Za-z0-9][A-Za-z0-9._-]*', line)
    return normalize(match.group(0)) if match else None


def plugin_imports():
    """Top-level names of every absolute import in plugins/, and the collections they come from."""
    modules, collections = set(), set()
    for path in glob.glob(os.path.join(PLUGINS, '**', '*.py'), recursive=True):
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split('.')
                if parts[0] == 'ansible_collections' and len(parts) >= 3:
                    collections.add((parts[1], parts[2]))
                else:
                    modules.add(parts[0])
    return modules, collections


def needed_distributions():
    """``{distribution: [modules]}`` for every non-standard-library import of the plugins."""
    modules, _collections = plugin_imports()
    owners = metadata.packages_distributions()
    needed, unknown = {}, []
    for module in sorted(modules - set(sys.stdlib_module_names) - set(['__future__'])):
        if module not in owners:
            unknown.append(module)
            continue
        for owner in owners[module]:
            needed.setdefault(normalize(owner), []).append(module)
    assert unknown == [], 'imports no installed distribution provides: %s' % unknown
    return needed


def test_plugins_import_third_party_packages():
    # Guards the derivation itself: the NVML bindings and PyYAML are imported by module_utils.
    needed = needed_distributions()
    assert 'pynvml' in sum(needed.values(), []) and 'yaml' in sum(needed.values(), [])


def test_ansible_builder_create(tmp_path):
    version = yaml.safe_load(open(os.path.join(ROOT, 'galaxy.yml')))['version']
    tarball = os.path.join(ROOT, 'build', 'edge_gpu-sharing-%s.tar.gz' % version)
    assert os.path.isfile(tarball), 'run make install first: %s is missing' % tarball
    context = str(tmp_path / 'context')
    proc = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', os.path.join(ROOT, 'execution-environment.yml'),
                           '-c', context, '--output-filename', 'Containerfile'],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout

    with open(os.path.join(context, 'Containerfile')) as handle:
        containerfile = handle.read()
    definition = yaml.safe_load(open(os.path.join(ROOT, 'execution-environment.yml')))
    assert 'FROM %s' % '$EE_BASE_IMAGE' in containerfile
    assert definition['images']['base_image']['name'] in containerfile
    # The collections are installed from the context's requirements.yml, and the collections'
    # declared Python and system packages come from introspection at build time.
    assert 'ansible-galaxy collection install' in containerfile and 'introspect' in containerfile

    # The collection tarball is in the context, and it is the one make install built.
    copied = glob.glob(os.path.join(context, '_build', '**', os.path.basename(tarball)), recursive=True)
    assert len(copied) == 1, copied
    with open(copied[0], 'rb') as first, open(tarball, 'rb') as second:
        assert first.read() == second.read()

    # requirements.yml names this collection (the tarball, as the image sees it) and every
    # collection the plugins import from.
    with open(os.path.join(context, '_build', 'requirements.yml')) as handle:
        galaxy = yaml.safe_load(handle)['collections']
    files = [entry['name'] for entry in galaxy if entry.get('type') == 'file']
    assert len(files) == 1 and files[0].endswith('.tar.gz')
    named = set(tuple(entry['name'].split('.')) for entry in galaxy if entry.get('type') != 'file')
    _modules, collections = plugin_imports()
    assert collections - set([THIS]) <= named
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        dependencies = yaml.safe_load(handle)['dependencies']
    assert set(tuple(name.split('.')) for name in dependencies) <= named
    # The file steps move the copied tarball to the path requirements.yml names.
    assert files[0] in containerfile

    # Install what the context holds (this collection from its tarball, kubernetes.core from the
    # ansible package, Galaxy being out of reach) and run the context's own introspection on it,
    # as the image build does.
    collections_path = str(tmp_path / 'collections')
    proc = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '--no-deps',
                           '--force', '-p', collections_path, copied[0]],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout
    import ansible_collections.kubernetes.core as kubernetes_core  # pylint: disable=import-outside-toplevel
    os.symlink(os.path.dirname(list(kubernetes_core.__path__)[0]), os.path.join(collections_path, 'ansible_collections', 'kubernetes'))
    installed = sorted(os.listdir(os.path.join(collections_path, 'ansible_collections')))
    assert installed == ['edge_gpu', 'kubernetes'], installed
    pip_out, bindep_out = str(tmp_path / 'pip.txt'), str(tmp_path / 'bindep.txt')
    proc = subprocess.run([sys.executable, os.path.join(context, '_build', 'scripts', 'introspect.py'), 'introspect',
                           collections_path, '--user-pip', os.path.join(context, '_build', 'requirements.txt'),
                           '--write-pip', pip_out, '--write-bindep', bindep_out],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert 'edge_gpu.sharing' in proc.stdout and 'kubernetes.core' in proc.stdout, proc.stdout
    with open(pip_out) as handle:
        pip_lines = [line for line in handle.read().splitlines() if requirement_name(line)]
    ours = set(requirement_name(line) for line in pip_lines if 'from collection edge_gpu.sharing' in line)
    image = set(requirement_name(line) for line in pip_lines)
    # The EE installs ansible-core, and with it ansible-core's own requirements (introspection
    # leaves those out of the collections' lists).
    image |= set(requirement_name(line) for line in metadata.requires('ansible-core') or ())
    image.add('ansible-core')

    needed = needed_distributions()
    assert sorted(set(needed) - image) == [], needed
    # The collection declares its own needs (meta/execution-environment.yml), not only the EE file.
    assert sorted(set(needed) - ours - set(requirement_name(line) for line in metadata.requires('ansible-core'))
                  - set(['ansible-core'])) == []
    # Its system needs are declared too: the SSH client the EE reaches the devices with.
    with open(bindep_out) as handle:
        bindep = [line for line in handle.read().splitlines() if 'from collection edge_gpu.sharing' in line]
    assert bindep and all(line.split()[0].startswith('openssh-client') for line in bindep)

    # The collection's tarball carries the files its meta/execution-environment.yml names.
    with tarfile.open(copied[0]) as archive:
        members = set(archive.getnames())
        meta = yaml.safe_load(archive.extractfile('meta/execution-environment.yml'))
    for kind in ('python', 'system'):
        assert meta['dependencies'][kind] in members, kind
