# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One MPS control daemon as desired state: read it, plan, apply with rollback.

Plain Python, no Ansible imports; the daemon is reached through an ``mps.MpsControl``
(``mps.py`` talks to it, this file decides what to ask of it). The shape is ``gpu_modes``':
``parse_options`` checks every option before anything is read; ``read`` reads the daemon;
``plan`` (pure) works out the desired state and what must happen to reach it; ``difference``
gives ``changed`` and ``--diff``; ``apply`` makes it so and undoes what it did when a step fails.

States:
  ``started``     a daemon serves the pipe directory with these GPUs and defaults: it is started,
                  or restarted when it serves other GPUs or logs elsewhere;
  ``stopped``     no daemon serves the pipe directory;
  ``configured``  the daemon another owner (its systemd unit) runs has these defaults; it is
                  never started, stopped or restarted.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import pwd
import stat
from collections import namedtuple

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules, mps, nvml, units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption, MpsError

STARTED, STOPPED, CONFIGURED = 'started', 'stopped', 'configured'
STATES = (STARTED, STOPPED, CONFIGURED)

PERCENTAGE = 'default_active_thread_percentage'
PINNED = 'default_pinned_device_mem_limit'
PRIORITY = 'default_client_priority'
DEFAULTS = (PERCENTAGE, PRIORITY, PINNED)

# A daemon's state, in the order --diff shows it; pinned limits are keyed by int ordinal.
FIELDS = ('running', 'pid', 'server_list', 'visible_devices', 'log_directory', PERCENTAGE, PINNED, PRIORITY)

# What a freshly started daemon has: its defaults do not survive quit.
FRESH_DEFAULTS = {PERCENTAGE: 100.0, PRIORITY: 0}

# What must happen to the daemon itself (None: nothing, only its defaults may change).
START, RESTART, STOP = 'start', 'restart', 'stop'

Plan = namedtuple('Plan', 'action base todo desired')


# ---- options -----------------------------------------------------------------------------

def parse_options(params):
    """Check every option before anything is read or changed; returns the request (a dict)."""
    gpu_rules.check_pipe_directory(params['pipe_directory'])
    gpu_rules.check_mps_directory(params['log_directory'], 'log_directory')
    wanted = {}
    if params[PERCENTAGE] is not None:
        wanted[PERCENTAGE] = units.parse_percentage(params[PERCENTAGE], PERCENTAGE)
    limits = {}
    for device, size in (params[PINNED] or {}).items():
        try:
            ordinal = units.whole_number(device, PINNED)
        except InvalidOption:
            raise InvalidOption('%s: %r is not a device ordinal (0, 1, ...)' % (PINNED, device))
        limits[ordinal] = units.memory_text(units.parse_memory(size, PINNED))
    if limits:
        wanted[PINNED] = limits
    if params[PRIORITY] is not None:
        wanted[PRIORITY] = params[PRIORITY]
    selectors = gpu_rules.parse_selection(params['gpus'])
    # Checked here with the other options; the module's argument spec already made it an int.
    units.parse_timeout(params['timeout'], 'timeout')
    return {'state': params['state'], 'pipe_directory': params['pipe_directory'],
            'log_directory': params['log_directory'], 'wanted': wanted, 'selectors': selectors,
            'force': params['force']}


def resolve_gpus(selectors):
    """The UUIDs of the selected GPUs (device order), refusing unknown and MIG-enabled ones."""
    try:
        with nvml.nvml_session() as session:
            handles, uuids, indexes = session.select(selectors)
            found = [{'index': index, 'uuid': uuids[index], 'mig_mode': session.mig_mode(index, handles[index])}
                     for index in indexes]
    except nvml.NvmlError as exc:
        raise MpsError('gpus: %s' % exc, exc.kind)
    mig = [gpu for gpu in found if gpu_rules.mig_enabled(gpu)]
    if mig:
        raise MpsError('gpus: MPS is not set up on MIG-enabled GPUs here: %s' % gpu_rules.labels(mig))
    return [uuids[index] for index in indexes]


def check_pinned_driver(wanted):
    """Refuse pinned memory limits before anything changes where the driver has none."""
    if PINNED not in wanted or nvml.pynvml is None:
        return
    try:
        with nvml.nvml_session() as session:
            driver = session.driver_version()
    except nvml.NvmlError as exc:
        if exc.unavailable:
            # No usable NVML: the daemon's own answer to each limit is checked as it is set.
            return
        raise MpsError('%s: %s' % (PINNED, exc), exc.kind)
    for device, text in sorted(wanted[PINNED].items()):
        gpu_rules.check_pinned_mem_driver(driver, '%s[%d]' % (PINNED, device), text)


def gpu_count():
    """How many GPUs the device has (the daemon serves them all when no GPUs are selected);
    ``None`` without a usable NVML, where the daemon's own answer to each limit is the check."""
    if nvml.pynvml is None:
        return None
    try:
        with nvml.nvml_session() as session:
            return session.count()
    except nvml.NvmlError as exc:
        if exc.unavailable:
            return None
        raise MpsError('%s: cannot count the GPUs: %s' % (PINNED, exc), exc.kind)


def device_ordinals(wanted, visible, count=None):
    """The device ordinals whose limits are read; a limit for a device the daemon won't serve is refused.

    ``count``: how many GPUs a daemon that serves every GPU sees (``visible`` is ``None``).
    """
    limits = wanted.get(PINNED, {})
    served = len(visible) if visible else count
    if served is not None:
        too_high = sorted(device for device in limits if device >= served)
        if too_high:
            raise InvalidOption('%s: device ordinal(s) %s out of range: the daemon serves %d GPU(s)'
                                % (PINNED, ', '.join(str(device) for device in too_high), served))
    return sorted(set(range(len(visible or []))) | set(limits))


def _daemon_uid(pid):
    """The user a running daemon runs as (``None`` when unknown)."""
    try:
        return os.stat('/proc/%d' % pid).st_uid if pid else None
    except OSError:
        return None


def _owner_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return 'uid %d' % uid


def check_directory(path, what, starting=True, owners=None):
    """An existing directory must not be writable by group or others and must belong to root or to
    the user the daemon runs as (``owners``; by default root and us); when ``starting``, a missing
    one must be creatable and an existing one writable. Only the directory itself is checked, so
    it may lie in a sticky, world-writable directory such as /tmp."""
    owners = set([0, os.geteuid()]) if owners is None else set(owners)
    if os.path.lexists(path):
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode):
            raise MpsError('%s %s exists but is not a directory' % (what, path))
        described = 'mode %04o, owner %s' % (stat.S_IMODE(info.st_mode), _owner_name(info.st_uid))
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise MpsError('%s %s is writable by group or others (%s): another user could put sockets or '
                           'logs there; make it 0755 or stricter' % (what, path, described))
        if info.st_uid not in owners:
            raise MpsError('%s %s belongs to another user (%s): it must belong to root or to the user the MPS '
                           'daemon runs as (%s); fix its owner' % (what, path, described,
                                                                   ', '.join(_owner_name(uid) for uid in sorted(owners))))
        if starting and not os.access(path, os.W_OK | os.X_OK):
            raise MpsError('%s %s is not writable (%s)' % (what, path, described))
        return
    if not starting:
        return
    parent = path
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise MpsError('%s %s cannot be created: %s is not a writable directory' % (what, path, parent))


# ---- state -------------------------------------------------------------------------------

def snapshot(running, pid, servers, visible, log_directory, defaults):
    state = {'running': running, 'pid': pid, 'server_list': servers, 'visible_devices': visible,
             'log_directory': log_directory}
    state.update(defaults)
    return state


def fresh_defaults(devices):
    defaults = dict(FRESH_DEFAULTS)
    defaults[PINNED] = dict((device, None) for device in devices)
    return defaults


def not_running(log_directory):
    return snapshot(False, None, [], None, log_directory, fresh_defaults([]))


def public(state):
    """The state as returned to the user: dictionary keys are strings in Ansible results."""
    shown = dict(state)
    shown[PINNED] = dict((str(device), text) for device, text in sorted(state[PINNED].items()))
    return shown


def serving_pid(pipe_directory):
    try:
        return mps.daemon_pid(pipe_directory)
    except OSError as exc:
        raise MpsError('cannot tell whether an MPS daemon serves %s: %s' % (pipe_directory, exc))


def read_defaults(control, devices):
    return {
        PERCENTAGE: control.active_thread_percentage(),
        PINNED: dict((device, control.pinned_mem_limit(device)) for device in devices),
        PRIORITY: control.client_priority(),
    }


def read(control, log_directory, devices):
    """The daemon serving ``control.pipe_directory`` as it is now (``log_directory`` if none runs)."""
    pid = serving_pid(control.pipe_directory)
    if pid is None:
        return not_running(log_directory)
    env = mps.daemon_environment(pid)
    return snapshot(True, pid, control.server_pids(), env.get('CUDA_VISIBLE_DEVICES'),
                    env.get('CUDA_MPS_LOG_DIRECTORY', log_directory), read_defaults(control, devices))


# ---- plan (pure) -------------------------------------------------------------------------

def differing(current, wanted):
    """The defaults in ``wanted`` that ``current`` does not already have."""
    todo = {}
    for name, value in wanted.items():
        if name == PINNED:
            limits = dict((d, t) for d, t in value.items() if current[name].get(d) != t)
            if limits:
                todo[name] = limits
        elif current[name] != value:
            todo[name] = value
    return todo


def with_defaults(base, todo):
    desired = dict(base, **todo)
    if PINNED in todo:
        desired[PINNED] = dict(base[PINNED])
        desired[PINNED].update(todo[PINNED])
    return desired


def plan(current, request, visible, devices):
    """The desired state and how to reach it from ``current``; changes and reads nothing.

    ``visible`` is the UUID list the daemon must serve (``None``: whatever it serves);
    ``devices`` the ordinals whose pinned limits are compared (``device_ordinals``).
    """
    pipe = request['pipe_directory']
    if request['state'] == STOPPED:
        if not current['running']:
            return Plan(None, current, {}, current)
        return Plan(STOP, current, {}, dict(current, running=False, pid=None, server_list=[]))
    visible_text = ','.join(visible) if visible else None
    other_gpus = visible is not None and current['visible_devices'] != visible_text
    if request['state'] == CONFIGURED:
        if not current['running']:
            raise MpsError('no MPS control daemon serves %s: state=configured never starts one; start it through '
                           'its owner (for example its systemd unit), or use state=started' % pipe)
        if other_gpus:
            raise MpsError('the MPS control daemon serving %s serves %s, not %s: state=configured never restarts '
                           'it; restart it through its owner (for example its systemd unit)'
                           % (pipe, current['visible_devices'] or 'every GPU', visible_text))
        action = None
    elif not current['running']:
        action = START
    elif other_gpus or current['log_directory'] != request['log_directory']:
        action = RESTART
    else:
        action = None
    if action:
        base = snapshot(True, None, [], visible_text, request['log_directory'], fresh_defaults(devices))
    else:
        base = current
    todo = differing(base, request['wanted'])
    return Plan(action, base, todo, with_defaults(base, todo))


def difference(before, after):
    """Every field of the daemon's state, before and after, as the user sees them."""
    return DifferenceTracker().add_dicts(public(before), public(after), FIELDS)


# ---- apply -------------------------------------------------------------------------------

def refuse_if_clients(control, force, doing):
    clients = control.client_pids()
    if clients and not force:
        raise MpsError('refusing to %s the MPS daemon for %s: clients are connected (pids %s); stop them first '
                       'or set force: true' % (doing, control.pipe_directory, ', '.join(str(c) for c in clients)))


def check_action(control, the_plan, request):
    """What starting, restarting or stopping needs, checked before anything changes (in check mode too)."""
    if the_plan.action in (START, RESTART):
        for path, what in ((request['pipe_directory'], 'pipe_directory'), (request['log_directory'], 'log_directory')):
            check_directory(path, what)
    elif the_plan.action != STOP and request['state'] != STOPPED:
        # A running daemon's pipe directory is where clients find it, its log directory what an
        # operator reads: refuse either where others could write.
        owner = _daemon_uid(the_plan.base.get('pid'))
        owners = [0, os.geteuid()] + ([owner] if owner is not None else [])
        check_directory(request['pipe_directory'], 'pipe_directory', starting=False, owners=owners)
        check_directory(the_plan.base.get('log_directory') or request['log_directory'], 'log_directory',
                        starting=False, owners=owners)
    if the_plan.action in (RESTART, STOP):
        refuse_if_clients(control, request['force'], the_plan.action)


def set_default(control, name, value):
    if name == PERCENTAGE:
        control.set_active_thread_percentage(value)
    elif name == PRIORITY:
        control.set_client_priority(value)
    else:
        # A limit that was never set (None) has nothing to set back: the daemon has no "unset".
        for device, text in sorted(value.items()):
            if text:
                control.set_pinned_mem_limit(device, units.parse_memory(text, PINNED))


def restore_previous_daemon(control, previous):
    """Start the daemon that ran before as it was: its GPUs, its log directory, its defaults."""
    old = control.using_log_directory(previous['log_directory'])
    old.start(previous['visible_devices'].split(',') if previous['visible_devices'] else None)
    for name in DEFAULTS:
        set_default(old, name, previous[name])


def put_back_defaults(control, the_plan, names):
    """Set ``names`` (defaults ``the_plan`` changed on a daemon it did not start) back to what they were."""
    for name in reversed(list(names)):
        old = the_plan.base[name]
        if name == PINNED:
            old = dict((device, text) for device, text in old.items() if device in the_plan.todo[name])
        set_default(control, name, old)


def prepare(control, request, visible, devices, check_mode):
    """Read the daemon, plan, and check what the plan needs; changes nothing.

    Returns ``(control, current, plan)``; ``control`` logs where the daemon's owner said.
    """
    current = read(control, request['log_directory'], devices)
    if request['state'] == CONFIGURED and not current['running'] and check_mode:
        # A dry run before the owner (the unit) has ever started the daemon: predict what its
        # start and these defaults will give, instead of failing a check that cannot pass yet.
        request = dict(request, state=STARTED)
    if request['state'] == CONFIGURED and current['running']:
        # Its owner chose where it logs; refusals quote that log.
        control = control.using_log_directory(current['log_directory'])
    the_plan = plan(current, request, visible, devices)
    check_action(control, the_plan, request)
    return control, current, the_plan


def apply(control, current, the_plan, visible):
    """Carry out ``the_plan``; on failure undo what this call did, then raise ``MpsError``."""
    action, base, todo = the_plan.action, the_plan.base, the_plan.todo
    if action == STOP:
        control.stop()
        return the_plan.desired
    if action == RESTART:
        control.stop()
    if action in (START, RESTART):
        for path in (control.pipe_directory, control.log_directory):
            if not os.path.isdir(path):
                try:
                    os.makedirs(path, 0o755)
                except OSError as exc:
                    raise MpsError('cannot create %s: %s' % (path, exc))
        try:
            control.start(visible)
        except MpsError as exc:
            if action == RESTART:
                restore_previous_daemon(control, current)
                raise MpsError('%s; the daemon that ran before was started again as it was' % exc)
            raise
    applied = []
    try:
        for name in sorted(todo):
            set_default(control, name, todo[name])
            applied.append(name)
    except MpsError as exc:
        if action == RESTART:
            control.stop()
            restore_previous_daemon(control, current)
            raise MpsError('%s; the daemon that ran before was started again as it was' % exc)
        if action:
            control.stop()
            raise MpsError('%s; the daemon this task started was stopped again' % exc)
        put_back_defaults(control, the_plan, applied)
        raise MpsError('%s; the defaults changed before were put back' % exc)
    return snapshot(True, control.pid(), control.server_pids(), base['visible_devices'], control.log_directory,
                    read_defaults(control, sorted(base[PINNED])))


def converge(control, request, check_mode):
    """Read, plan, check, apply unless ``check_mode``; returns ``(changed, DifferenceTracker)``."""
    visible = None
    if request['state'] != STOPPED:
        check_pinned_driver(request['wanted'])
    if request['selectors'] and request['state'] != STOPPED:
        visible = resolve_gpus(request['selectors'])
    count = None
    if visible is None and request['wanted'].get(PINNED) and request['state'] != STOPPED:
        count = gpu_count()
    devices = device_ordinals(request['wanted'], visible, count)
    # One run at a time reads and changes this daemon (see mps.converge_lock); only a run that
    # may start it creates the directories the lock file needs.
    with mps.converge_lock(request['pipe_directory'], lock_wait(control.timeout), create=not check_mode,
                           parents=request['state'] == STARTED):
        control, current, the_plan = prepare(control, request, visible, devices, check_mode)
        planned = difference(current, the_plan.desired)
        if check_mode or not planned.changed:
            return planned.changed, planned
        return True, difference(current, apply(control, current, the_plan, visible))


def lock_wait(timeout):
    """How long a run waits for another run on the same daemon: a start, a restart and its
    defaults take a few daemon timeouts at most."""
    return 3 * timeout
