# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Give ``ansible-test --venv`` the pip bootstrap script it would otherwise download.

ansible-test fetches ``get-pip-<version>.py`` from a host these machines cannot reach
and looks in ``~/.ansible/test/cache`` first. The script placed there bootstraps pip with
the interpreter's own ``ensurepip`` and then lets pip install what ansible-test asked for.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

# One per ansible-core minor we test: each ansible-test asks for its own pip.
PIP_VERSIONS = ('23.1.2', '24.2')

BOOTSTRAP = '''\
"""pip bootstrap for ansible-test: ensurepip, then pip install with the given arguments."""
import subprocess
import sys

# ensurepip in a subprocess: run in-process it sets PIP_CONFIG_FILE=/dev/null, which
# would hide the machine's pip settings (index, certificates) from the install below.
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
if args:
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
'''


def main():
    cache = os.path.expanduser('~/.ansible/test/cache')
    if not os.path.isdir(cache):
        os.makedirs(cache)
    for version in PIP_VERSIONS:
        with open(os.path.join(cache, 'get_pip_%s.py' % version.replace('.', '_')), 'w') as handle:
            handle.write(BOOTSTRAP)


if __name__ == '__main__':
    main()
