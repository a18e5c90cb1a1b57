# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nvidia-smi as the reference the real-GPU tests compare against."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import shutil
import subprocess


def nvidia_smi(*args):
    return subprocess.check_output(['nvidia-smi'] + list(args), universal_newlines=True)


def has_gpu():
    if not shutil.which('nvidia-smi'):
        return False
    try:
        return bool(nvidia_smi('-L').strip())
    except (subprocess.CalledProcessError, OSError):
        return False


def query_csv(kind, fields):
    """nvidia-smi --query-KIND=FIELDS as a list of dicts of stripped strings."""
    out = nvidia_smi('--query-%s=%s' % (kind, ','.join(fields)), '--format=csv,noheader,nounits')
    return [dict(zip(fields, (cell.strip() for cell in line.split(',')))) for line in out.splitlines() if line.strip()]
