# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The owner, group and mode of the files a module writes (module_utils/files.py)."""

    DOCUMENTATION = r'''
options:
  mode:
    description:
      - The permissions of the file(s) written to O(dest), as an octal string (V('0644'), V('0600'));
        quote it, since YAML reads an unquoted V(0644) as a number. Symbolic modes (C(u=rw)) are refused.
      - Checked on every run, also when the content is unchanged; a file whose mode drifted is put
        right and the task reports C(changed) (with the old and new mode under C(--diff)).
      - Left out, a new file gets V(0644) and an existing file keeps its mode, except a file that holds
        credentials (the module says which), which is always V(0600) unless given a mode; a mode that
        lets other users in (any permission for others, or group write) is refused for such a file.
    type: raw
  owner:
    description:
      - User name (or numeric id) that should own the file(s); checked on every run like O(mode).
      - Left out, a new file belongs to the user running the module and a replaced file keeps its owner.
    type: str
  group:
    description:
      - Group name (or numeric id) of the file(s); checked on every run like O(mode).
    type: str
notes:
  - O(dest) is never followed when it is a symbolic link (the task fails instead), and a file owned by
    another user in a sticky, world-writable directory such as C(/tmp) is never replaced.
  - A file system that refuses the write (read-only, full, permission denied) fails the task with a
    message naming the file and the reason; the old file is left as it was, with no temporary file left.
'''
