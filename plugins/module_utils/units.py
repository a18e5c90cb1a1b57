# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Values as operators write them: percentages, memory sizes, booleans from strings.

Plain Python, no Ansible imports. Each parser names the option in its error, so the same
value is refused with the same words by every module, role and filter.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import os
import re

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption

_UNITS = (('G', 1024 ** 3), ('M', 1024 ** 2), ('K', 1024))
_MEMORY_RE = re.compile(r'^([0-9]+)([KMG])$')
_PERCENT_RE = re.compile(r'^[0-9]+(\.[0-9]+)?$')
# An image reference: no whitespace, quotes or control characters.
_IMAGE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._/:@-]*$')
# Longer waits than this are no bound at all: a daemon that never answers would hold the task.
MAX_TIMEOUT = 3600
_TRUE = frozenset(('true', 'yes', 'on', '1', 'y', 't'))
_FALSE = frozenset(('false', 'no', 'off', '0', 'n', 'f'))


def parse_percentage(value, option):
    """A percentage of SMs, 1 to 100, as a float."""
    if isinstance(value, bool) or not (isinstance(value, (int, float)) or (
            isinstance(value, str) and _PERCENT_RE.match(value.strip()))):
        raise InvalidOption('%s must be a number from 1 to 100, got %r' % (option, value))
    number = float(value)
    if math.isnan(number) or not 1 <= number <= 100:
        raise InvalidOption('%s must be a number from 1 to 100, got %r' % (option, value))
    return number


def parse_memory(value, option):
    """A memory size such as ``2G``, ``512M`` or ``1024K``, in bytes."""
    match = _MEMORY_RE.match(value.strip().upper()) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0:
        raise InvalidOption('%s: %r is not a memory size such as 512M or 2G (a whole number and K, M or G)'
                            % (option, value))
    return int(match.group(1)) * dict(_UNITS)[match.group(2)]


def memory_text(size, exact=False):
    """The MPS daemon's spelling of a size: the largest unit it reaches, rounded down (NVIDIA's
    535 daemon answers 1G after ``set_default_device_pinned_mem_limit 0 1536M``).

    ``exact``: the largest unit that divides the size, so nothing is lost (``1536M``), for values
    a client reads, such as ``CUDA_MPS_PINNED_DEVICE_MEM_LIMIT``.
    """
    for unit, factor in _UNITS:
        if size >= factor and (not exact or size % factor == 0):
            return '%d%s' % (size // factor, unit)
    return str(size)


def number_text(value):
    """``20`` for 20.0, ``12.5`` for 12.5: how percentages are written to the daemon and to env."""
    value = float(value)
    return '%d' % value if value == int(value) else repr(value)


def parse_bool(value, option):
    """A boolean, also from the strings ``-e`` and surveys give (``'false'``, ``'yes'``, ``'0'``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidOption('%s must be true or false, got %r' % (option, value))


def parse_timeout(value, option):
    """Seconds to wait, a whole number from 1 to ``MAX_TIMEOUT``."""
    return whole_number(value, option, 1, MAX_TIMEOUT, unit='seconds')


def whole_number(value, option, minimum=0, maximum=None, unit=None):
    """A whole number from ``minimum`` to ``maximum`` (``'20'`` from ``-e`` too; never a boolean)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
            or (maximum is not None and value > maximum)):
        what = 'a whole number' + (' of %s' % unit if unit else '')
        bounds = 'from %d to %d' % (minimum, maximum) if maximum is not None else (
            'of %d or more' % minimum if unit is None else '(at least %d)' % minimum)
        raise InvalidOption('%s must be %s %s, got %r' % (option, what, bounds, value))
    return value


def seconds(value, option, minimum, maximum, zero=False):
    """A duration in seconds from ``minimum`` to ``maximum`` as a float (``'0.5'`` from ``-e``
    too; never a boolean, NaN or infinity); with ``zero``, 0 is also allowed (meaning "off")."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _PERCENT_RE.match(value.strip()):
        number = float(value)
    if number is None or math.isnan(number) or not (minimum <= number <= maximum or (zero and number == 0)):
        raise InvalidOption('%s must be %sa number of seconds from %s to %s, got %r' % (
            option, '0 or ' if zero else '', number_text(minimum), number_text(maximum), value))
    return 0.0 if number == 0 else number


def image_reference(value, option):
    """A container image reference: no whitespace, quotes or control characters."""
    if not isinstance(value, str) or not _IMAGE_RE.match(value):
        raise InvalidOption('%s %r is not a container image reference' % (option, value))
    return value


def absolute_path(value, option):
    """An absolute, normalised path (relative ones would depend on the task's working directory).

    Control characters (a newline, a tab, NUL) are refused: a path ends up in environment files,
    systemd units and manifests, where they would start a new line or cut the value short.
    """
    if not isinstance(value, str) or not os.path.isabs(value):
        raise InvalidOption('%s %r must be an absolute path' % (option, value))
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidOption('%s %r holds a control character (newline, tab, ...); give a plain path' % (option, value))
    normal = os.path.normpath(value)
    if value != normal or value.startswith('//'):
        # normpath keeps a leading "//" (POSIX leaves its meaning to the system).
        raise InvalidOption('%s %r is not a normalised path; use %r' % (option, value, '/' + normal.lstrip('/')))
    return value
