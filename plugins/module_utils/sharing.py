# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One desired sharing state per device, from one intent: read, decide, diff, apply.

Plain Python, no Ansible imports (the module hands in what needs it: the MPS control client,
a file writer). ``parse_intent`` checks the whole request before anything is read;
``decide`` (pure) turns the device's GPUs and the intent into the desired state: each GPU's
strategy, its compute and persistence modes, what the MPS daemon serves with which defaults,
the placement of every workload and its manifests; ``converge`` compares that with the device
and changes only what differs, undoing what it did when a later step fails.

Rules that hold whatever the intent:
  * MPS variables only reach workloads placed on a GPU that the MPS daemon serves;
  * a GPU reserved for VMs is never shared and never gets a workload;
  * a device without GPUs or without a usable driver succeeds when its request needs no GPU;
  * an empty workload list never removes the workloads already deployed unless ``prune``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpu_modes, gpus as gpu_rules, mps_daemon, units
from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner
from ansible_collections.edge_gpu.sharing.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import EdgeGpuError, FileError, InvalidOption
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import device_plugin, dra, iotedge, kubernetes

NONE, TIME_SLICING, MPS = 'none', 'time_slicing', 'mps'
STRATEGIES = (NONE, TIME_SLICING, MPS)
PLATFORMS = ('kubernetes', 'iotedge', 'none')
# The manifest builders' own options, passed through by keyword.
IOTEDGE_OPTIONS = ('registry_credentials', 'routes', 'gpu_runtime', 'create_options')
KUBERNETES_OPTIONS = ('kind', 'namespace', 'labels', 'gpu_resource', 'runtime_class', 'allocation', 'time_slice_interval')
# Options for the host's MPS daemon and the device plugin, which DRA replaces: NVIDIA's DRA
# driver runs one MPS daemon per claim, with the claim's defaults, and sets the compute mode.
DRA_REPLACES = ('replicas', 'mps_default_active_thread_percentage', 'mps_pinned_device_mem_limit',
                'mps_default_client_priority')


# ---- the intent --------------------------------------------------------------------------

def _strategy(value, option):
    if value not in STRATEGIES:
        raise InvalidOption('%s must be one of %s, got %r' % (option, ', '.join(STRATEGIES), value))
    return value


def parse_intent(params):
    """Check everything that can be checked without the device; returns the intent (a dict)."""
    intent = {
        'strategy': _strategy(params['strategy'], 'strategy'),
        'platform': params['platform'],
        'workloads': planner.workloads_from_params(params['workloads'] or []),
        'prune': units.parse_bool(params['prune'], 'prune'),
        'oversubscribe': units.parse_bool(params['oversubscribe'], 'oversubscribe'),
        'manage_compute_mode': units.parse_bool(params['manage_compute_mode'], 'manage_compute_mode'),
        'force': units.parse_bool(params['force'], 'force'),
        'device_ids': params['device_ids'],
        'replicas': params['replicas'],
        'pipe_directory': gpu_rules.check_pipe_directory(params['mps_pipe_directory'], 'mps_pipe_directory'),
        'log_directory': gpu_rules.check_mps_directory(params['mps_log_directory'], 'mps_log_directory'),
        'daemon_owner': params['mps_daemon_owner'],
        'control_binary': params['mps_control_binary'],
        'timeout': units.parse_timeout(params['mps_timeout'], 'mps_timeout'),
        'iotedge_dest': params['iotedge_dest'] and units.absolute_path(params['iotedge_dest'], 'iotedge_dest'),
        'reserved': gpu_rules.parse_selectors(params['reserved_gpus'], 'reserved_gpus'),
        'gpu_strategies': params['gpu_strategies'] or {},
        'defaults': {},
        'pinned': [],
        'iotedge_options': dict((key, params[key]) for key in IOTEDGE_OPTIONS if params.get(key) is not None),
        'kubernetes_options': dict((key, params[key]) for key in KUBERNETES_OPTIONS if params.get(key) is not None),
    }
    if intent['platform'] not in PLATFORMS:
        raise InvalidOption('platform must be one of %s, got %r' % (', '.join(PLATFORMS), intent['platform']))
    intent['allocation'] = dra.check_allocation(params.get('allocation') or 'device_plugin')
    if intent['allocation'] == 'dra':
        if intent['platform'] != 'kubernetes':
            raise InvalidOption('allocation dra is for Kubernetes; platform is %s' % intent['platform'])
        for option in DRA_REPLACES:
            if params.get(option) is not None:
                raise InvalidOption('%s %r configures the host\'s MPS daemon or the device plugin, but with allocation '
                                    'dra the DRA driver runs one MPS daemon per claim with the claim\'s defaults; '
                                    'leave %s out' % (option, params[option], option))
    if intent['replicas'] is not None:
        intent['replicas'] = units.whole_number(intent['replicas'], 'replicas', 2, device_plugin.MAX_REPLICAS)
    # The strategies now (a device without NVML must know whether anything asks it for a GPU);
    # the GPUs they name once the device's GPUs are read (planner.gpu_strategies).
    for key, value in intent['gpu_strategies'].items():
        _strategy(value, 'gpu_strategies[%s]' % key)
    if params['mps_default_active_thread_percentage'] is not None:
        intent['defaults'][mps_daemon.PERCENTAGE] = units.parse_percentage(
            params['mps_default_active_thread_percentage'], 'mps_default_active_thread_percentage')
    if params['mps_default_client_priority'] is not None:
        intent['defaults'][mps_daemon.PRIORITY] = params['mps_default_client_priority']
    limits = params['mps_pinned_device_mem_limit']
    if isinstance(limits, dict):
        for key, size in sorted(limits.items(), key=lambda item: str(item[0])):
            intent['pinned'].append((gpu_rules.parse_selector(key, 'mps_pinned_device_mem_limit'),
                                     units.parse_memory(size, 'mps_pinned_device_mem_limit')))
    elif limits is not None:
        # One size for every GPU the daemon serves.
        intent['pinned'].append((gpu_rules.ALL, units.parse_memory(limits, 'mps_pinned_device_mem_limit')))
    return intent


def asks_pinned_memory(intent):
    """Whether the request may set an MPS pinned memory limit (then the driver version is read)."""
    return bool(intent['pinned']) or any(isinstance(w, dict) and w.get('gpu_memory') for w in intent['workloads'])


def needs_gpu(intent):
    """Whether the request asks anything of a GPU (a GPU-less device fails only then)."""
    if intent['strategy'] != NONE or any(strategy != NONE for strategy in intent['gpu_strategies'].values()):
        return True
    return any(not isinstance(w, dict) or w.get('gpu') != 'none' for w in intent['workloads'])


def asks_for_mps(intent):
    """Whether the request puts any GPU under the host's MPS daemon (only then may a run create the
    parent directory of the daemon's lock file); with allocation dra the DRA driver runs MPS."""
    if intent.get('allocation') == 'dra':
        return False
    return intent['strategy'] == MPS or MPS in intent['gpu_strategies'].values()


# ---- the desired state (pure) ------------------------------------------------------------

def strategies_by_gpu(intent, gpus):
    """``{index: strategy}``: the device default, each per-GPU override, reserved GPUs unshared."""
    chosen = dict((gpu['index'], intent['strategy']) for gpu in gpus)
    for index, strategy in planner.gpu_strategies(intent['gpu_strategies'], gpus, 'gpu_strategies').items():
        gpu = gpu_rules.find(gpus, index)
        if strategy == MPS and gpu_rules.mig_enabled(gpu):
            raise InvalidOption('gpu_strategies: %s is MIG-enabled; MPS is not set up on MIG-enabled GPUs'
                                % gpu_rules.label(gpu))
        chosen[index] = strategy
    for selector in intent['reserved']:
        gpu = gpu_rules.find(gpus, selector)
        if gpu is None:
            raise InvalidOption('reserved_gpus: no GPU matches %s on this device' % selector)
        chosen[gpu['index']] = NONE
    for gpu in gpus:
        # A device-wide default never turns MPS on for a MIG-enabled GPU; it stays as it is.
        if gpu_rules.mig_enabled(gpu) and chosen[gpu['index']] == MPS:
            chosen[gpu['index']] = NONE
    return chosen


def host_mps_gpus(intent, gpus, chosen):
    """The GPUs the host's MPS daemon serves: none with allocation dra (the driver runs its own)."""
    if intent.get('allocation') == 'dra':
        return []
    return [gpu for gpu in gpus if chosen[gpu['index']] == MPS]


def mps_request(intent, gpus, chosen):
    """What the MPS daemon must do: serve the MPS GPUs (by UUID) with the defaults, or not run."""
    served = host_mps_gpus(intent, gpus, chosen)
    wanted = dict(intent['defaults'])
    limits = {}
    for selector, size in intent['pinned']:
        targets = served if selector == gpu_rules.ALL else [gpu_rules.find(gpus, selector)]
        for gpu in targets:
            if gpu is None or gpu not in served:
                raise InvalidOption('mps_pinned_device_mem_limit: %s is not a GPU the MPS daemon serves (%s)'
                                    % (selector, gpu_rules.labels(served) or 'none'))
            # The daemon numbers the GPUs it serves from 0, in the order it was given them.
            ordinal = served.index(gpu)
            if limits.get(ordinal, units.memory_text(size)) != units.memory_text(size):
                # An index and a UUID (or "every GPU") naming one GPU with two sizes.
                raise InvalidOption('mps_pinned_device_mem_limit gives %s two sizes, %s and %s; give one'
                                    % (gpu_rules.label(gpu), limits[ordinal], units.memory_text(size)))
            limits[ordinal] = units.memory_text(size)
    if limits:
        wanted[mps_daemon.PINNED] = limits
    if not served:
        state = mps_daemon.STOPPED
    else:
        state = mps_daemon.CONFIGURED if intent['daemon_owner'] == 'systemd' else mps_daemon.STARTED
    return {'state': state, 'pipe_directory': intent['pipe_directory'], 'log_directory': intent['log_directory'],
            'wanted': wanted, 'force': intent['force']}, [gpu['uuid'] for gpu in served]


def mode_changes(intent, gpus, chosen, mps_before):
    """Compute and persistence modes: MPS GPUs in exclusive_process with persistence on; a GPU
    the running daemon served that leaves MPS (left in exclusive_process) back to default. Other
    modes, those of GPUs reserved for VMs among them, are the operator's."""
    if not intent['manage_compute_mode']:
        return []
    mps_gpus = host_mps_gpus(intent, gpus, chosen)
    served = set()
    if mps_before is not None and mps_before['running']:
        visible = mps_before['visible_devices']
        served = set(uuid.lower() for uuid in visible.split(',')) if visible else set(gpu['uuid'].lower() for gpu in gpus)
    reserved = set(gpu['index'] for gpu in (gpu_rules.find(gpus, selector) for selector in intent['reserved']) if gpu)
    released = [gpu for gpu in gpus if chosen[gpu['index']] != MPS and gpu['compute_mode'] == gpu_modes.MPS_MODES['compute_mode']
                and gpu['uuid'].lower() in served and gpu['index'] not in reserved and not gpu_rules.mig_enabled(gpu)]
    changes = []
    if mps_gpus:
        wanted = gpu_modes.MPS_MODES
        changes += gpu_modes.plan(mps_gpus, True, wanted['compute_mode'], wanted['persistence_mode'], intent['force'])[0]
    if released:
        changes += gpu_modes.plan(released, True, gpu_modes.RELEASED_MODES['compute_mode'], None, intent['force'])[0]
    return sorted(changes, key=lambda change: change['gpu']['index'])


def make_plan(intent, gpus, chosen):
    """Place the workloads; ``gpu_sharing`` tells the planner each GPU's strategy."""
    return planner.make_plan(
        gpus, intent['workloads'], sharing=intent['strategy'],
        gpu_sharing=dict((index, strategy) for index, strategy in chosen.items()),
        reserved_gpus=intent['reserved'], oversubscribe=intent['oversubscribe'],
        mps_pipe_directory=intent['pipe_directory'], device_ids=intent['device_ids'])


def device_plugin_config(intent, gpus, chosen):
    """The device plugin's config for a Kubernetes node: time-slicing replicas for its shared GPUs.

    Host MPS and the device plugin's own MPS are never both on: GPUs MPS serves are left to the
    host daemon, and the plugin only time-slices.
    """
    sliced = [gpu for gpu in gpus if chosen[gpu['index']] == TIME_SLICING]
    if not sliced or intent['replicas'] is None:
        return device_plugin.build_config({'strategy': 'none'}, gpus)
    return device_plugin.build_config({'strategy': 'time_slicing', 'replicas': intent['replicas']}, gpus)


def summary(intent, desired, changed, available):
    """One line a person can read for each of 200 devices."""
    chosen = desired['strategies']
    per_gpu = ' '.join('%d:%s' % (index, chosen[index]) for index in sorted(chosen)) if chosen else (
        'none' if available else 'none (no usable NVML)')
    served = desired['mps_gpus']
    return 'strategy %s; GPUs %s; MPS %s; workloads %d; %s' % (
        intent['strategy'], per_gpu, ('serves %d GPU(s)' % len(served)) if served else 'off',
        len(desired['plan']['workloads']), 'changed' if changed else 'unchanged')


def public_mps(state):
    return None if state is None else mps_daemon.public(state)


def _undo_modes(session, handles, changes):
    reverse = [{'gpu': change['gpu'], 'before': change['after'], 'after': change['before']} for change in changes]
    gpu_modes.apply(session, handles, list(reversed(reverse)))


def _undo_mps(control, before, the_plan):
    """Put the daemon back as ``before`` had it, after ``the_plan`` was carried out."""
    if the_plan.action is None:
        # Only defaults changed, on a daemon that keeps running (its clients too).
        mps_daemon.put_back_defaults(control, the_plan, sorted(the_plan.todo))
        return
    if the_plan.action != mps_daemon.STOP:
        control.stop()
    if before['running']:
        mps_daemon.restore_previous_daemon(control, before)


def _serves_all(control, gpus, served):
    """Whether ``served`` is every GPU MPS can serve here (all but MIG-enabled ones)."""
    return set(served) == set(gpu['uuid'] for gpu in gpus if not gpu_rules.mig_enabled(gpu))


def _mps_view(state):
    """The daemon fields a person compares (not its pid, which a restart changes)."""
    shown = mps_daemon.public(state)
    fields = ('running', 'visible_devices', 'log_directory', mps_daemon.PERCENTAGE, mps_daemon.PINNED, mps_daemon.PRIORITY)
    return dict((key, shown[key]) for key in fields)


def check_pinned_memory(request, plan, driver):
    """Pinned memory limits (the daemon's defaults, MPS workloads' gpu_memory) need a driver that has them."""
    for device, text in sorted(request['wanted'].get(mps_daemon.PINNED, {}).items()):
        gpu_rules.check_pinned_mem_driver(driver, 'mps_pinned_device_mem_limit', text)
    for workload in plan['workloads']:
        if workload['mps'] and workload['gpu_memory']:
            gpu_rules.check_pinned_mem_driver(driver, 'workloads[%s].gpu_memory' % workload['name'],
                                              units.memory_text(workload['gpu_memory']))


def decide(intent, gpus, driver=None):
    """The desired state of a device with ``gpus`` (``gpu_info``'s list) and ``driver`` (its driver
    version, ``None`` when unknown); reads and changes nothing."""
    chosen = strategies_by_gpu(intent, gpus)
    plan = make_plan(intent, gpus, chosen)
    request, served = mps_request(intent, gpus, chosen)
    check_pinned_memory(request, plan, driver)
    desired = {'strategies': chosen, 'plan': plan, 'mode_changes': [],
               'mps_request': request, 'mps_gpus': served, 'manifest': None, 'objects': [], 'device_plugin_config': None}
    if intent['platform'] == 'iotedge':
        if plan['workloads'] or intent['prune']:
            desired['manifest'] = iotedge.manifest(plan, allow_empty=intent['prune'], **intent['iotedge_options'])
    elif intent['platform'] == 'kubernetes':
        desired['objects'] = kubernetes.workload_objects(plan, **intent['kubernetes_options'])
        desired['device_plugin_config'] = device_plugin_config(intent, gpus, chosen)
    return desired


def converge(intent, gpus, session, handles, control, files, check_mode, driver=None):
    """Bring the device to ``decide``'s state; returns ``(desired, DifferenceTracker, mps state after)``.

    ``control`` is an ``mps.MpsControl`` (``None`` where the control program is missing);
    ``files`` has ``differs(path, content)`` and ``write(path, content)``. Every check runs
    before the first change; a failing step undoes the steps before it.
    """
    if needs_gpu(intent) and not gpus:
        raise EdgeGpuError('the request needs a GPU (strategy %s, or workloads that use one), but this device has '
                           'no GPU' % intent['strategy'], 'no_gpu')
    desired = decide(intent, gpus, driver)
    request, served = desired['mps_request'], desired['mps_gpus']
    owner_runs_it = intent['daemon_owner'] == 'systemd'
    visible = served or None
    if control is None or (owner_runs_it and not served):
        # With systemd, the unit alone starts and stops the daemon; with no MPS GPU there is
        # nothing to set on it.
        if control is None and request['state'] != mps_daemon.STOPPED:
            raise EdgeGpuError('MPS is asked for GPUs %s, but the MPS control program is not installed'
                               % ', '.join(served), 'mps')
        mps_before = mps_plan = None
    else:
        devices = mps_daemon.device_ordinals(request['wanted'], served)
        if owner_runs_it and _serves_all(control, gpus, served):
            # A unit started without CUDA_VISIBLE_DEVICES serves every GPU: that is what is asked.
            visible = None
        control, mps_before, mps_plan = mps_daemon.prepare(control, request, visible, devices, check_mode)
    desired['mode_changes'] = mode_changes(intent, gpus, desired['strategies'], mps_before)

    content = None
    if desired['manifest'] is not None and intent['iotedge_dest']:
        content = files.render(desired['manifest'])

    tracker = DifferenceTracker().merge(gpu_modes.difference(desired['mode_changes']))
    if mps_plan is not None:
        tracker.add('mps', _mps_view(mps_before), _mps_view(mps_plan.desired))
    if content is not None and files.differs(intent['iotedge_dest'], content):
        # A fingerprint, not the text: the manifest may hold registry passwords (old ones too).
        tracker.add('manifest', files.state(intent['iotedge_dest']), files.state(intent['iotedge_dest'], content))
    desired['restore'] = None
    if check_mode or not tracker.changed:
        return desired, tracker, mps_plan.desired if mps_plan else None
    desired['restore'] = {
        # Enough to find the daemon again from a call that has only this data (site.yml's rescue).
        'mps_pipe_directory': intent['pipe_directory'],
        'mps_control_binary': intent['control_binary'],
        'mps_timeout': intent['timeout'],
        'modes': [dict((key, change['gpu'][key]) for key in ('uuid', 'compute_mode', 'persistence_mode'))
                  for change in desired['mode_changes']],
        'mps': _mps_view(mps_before) if tracker.has_difference_for('mps') else None,
        'manifest': None,
    }

    stopping = mps_plan is not None and mps_plan.action == mps_daemon.STOP
    steps = (('mps', 'modes') if stopping else ('modes', 'mps')) + ('manifest',)
    done, mps_after = [], mps_before
    try:
        for step in steps:
            if step == 'modes' and desired['mode_changes']:
                gpu_modes.apply(session, handles, desired['mode_changes'])
            elif step == 'mps' and mps_plan is not None and tracker.has_difference_for('mps'):
                mps_after = mps_daemon.apply(control, mps_before, mps_plan, visible)
            elif step == 'manifest' and tracker.has_difference_for('manifest'):
                existed = files.current(intent['iotedge_dest']) is not None
                backup = files.write(intent['iotedge_dest'], content)
                # Only its mode or owner was put right (no backup): there is no content to put back.
                if backup is not None or not existed:
                    desired['restore']['manifest'] = {'path': intent['iotedge_dest'], 'existed': existed,
                                                      'backup': backup}
            else:
                continue
            done.append(step)
    except EdgeGpuError as exc:
        undone = []
        for step in reversed(done):
            try:
                if step == 'modes':
                    _undo_modes(session, handles, desired['mode_changes'])
                else:
                    _undo_mps(control, mps_before, mps_plan)
                undone.append(step)
            except EdgeGpuError as undo_exc:
                raise EdgeGpuError('%s; undoing %s also failed: %s' % (exc, step, undo_exc), exc.kind)
        if undone:
            raise EdgeGpuError('%s; the device was put back as it was (%s undone)' % (exc, ', '.join(undone)), exc.kind)
        raise
    return desired, tracker, mps_after


# ---- putting a device back ---------------------------------------------------------------

RESTORE_KEYS = ('mps_pipe_directory', 'mps_control_binary', 'mps_timeout', 'modes', 'mps', 'manifest')
_MODE_KEYS = ('uuid', 'compute_mode', 'persistence_mode')


def parse_restore(snapshot):
    """The ``restore`` option, checked before anything is touched: it is data an earlier run
    returned, but it comes back through the play's variables, where anything may befall it."""
    def refuse(why):
        raise InvalidOption('restore is not what an earlier run returned as restore: %s' % why)

    if not isinstance(snapshot, dict):
        refuse('got %r' % (snapshot,))
    missing = [key for key in RESTORE_KEYS if key not in snapshot]
    unknown = sorted(set(snapshot) - set(RESTORE_KEYS))
    if missing or unknown:
        refuse('; '.join(text for text in ('missing %s' % ', '.join(missing) if missing else '',
                                           'unknown %s' % ', '.join(unknown) if unknown else '') if text))
    checked = dict(snapshot)
    checked['mps_pipe_directory'] = gpu_rules.check_pipe_directory(snapshot['mps_pipe_directory'],
                                                                   'restore.mps_pipe_directory')
    checked['mps_timeout'] = units.parse_timeout(snapshot['mps_timeout'], 'restore.mps_timeout')
    if not isinstance(snapshot['mps_control_binary'], str) or not snapshot['mps_control_binary'].strip():
        refuse('mps_control_binary must be a program name or path, got %r' % (snapshot['mps_control_binary'],))
    modes = snapshot['modes']
    if not isinstance(modes, list) or not all(isinstance(entry, dict) and set(_MODE_KEYS) <= set(entry)
                                              for entry in modes):
        refuse('modes must be a list of {%s}, got %r' % (', '.join(_MODE_KEYS), modes))
    for key in ('mps', 'manifest'):
        if snapshot[key] is not None and not isinstance(snapshot[key], dict):
            refuse('%s must be a dictionary or null, got %r' % (key, snapshot[key]))
    return checked


def restore(snapshot, gpus, session, handles, control, files, check_mode):
    """Put back what a ``converge`` changed, from the ``restore`` data it returned.

    The daemon is stopped before GPU modes change and started again after, as converging does.
    Returns a ``DifferenceTracker`` of what this changed.
    """
    tracker = DifferenceTracker()
    changes = []
    for entry in snapshot.get('modes') or []:
        gpu = gpu_rules.find(gpus, entry['uuid'])
        if gpu is None:
            raise InvalidOption('restore: %s is no longer on this device' % entry['uuid'])
        before = dict((key, gpu[key]) for key in gpu_modes.FIELDS)
        after = dict((key, entry[key]) for key in gpu_modes.FIELDS)
        if before != after:
            changes.append({'gpu': gpu, 'before': before, 'after': after})
    tracker.merge(gpu_modes.difference(changes))
    mps_plan = None
    if snapshot.get('mps') is not None and control is not None:
        previous = snapshot['mps']
        visible = previous['visible_devices'].split(',') if previous['visible_devices'] else None
        wanted = {}
        if previous['running']:
            wanted = dict((name, previous[name]) for name in (mps_daemon.PERCENTAGE, mps_daemon.PRIORITY))
            limits = dict((int(device), text) for device, text in previous[mps_daemon.PINNED].items() if text)
            if limits:
                wanted[mps_daemon.PINNED] = limits
        request = {'state': mps_daemon.STARTED if previous['running'] else mps_daemon.STOPPED,
                   'pipe_directory': control.pipe_directory, 'log_directory': previous['log_directory'],
                   'wanted': wanted, 'force': True}
        devices = mps_daemon.device_ordinals(wanted, visible)
        current = mps_daemon.read(control, previous['log_directory'], devices)
        mps_plan = mps_daemon.plan(current, request, visible, devices)
        if (previous['running'] and current['running'] and mps_plan.action is None
                and current['visible_devices'] != previous['visible_devices']):
            # It served every GPU before (no CUDA_VISIBLE_DEVICES), which plan() reads as "any".
            base = mps_daemon.snapshot(True, None, [], None, previous['log_directory'], mps_daemon.fresh_defaults(devices))
            todo = mps_daemon.differing(base, wanted)
            mps_plan = mps_daemon.Plan(mps_daemon.RESTART, base, todo, mps_daemon.with_defaults(base, todo))
        tracker.add('mps', _mps_view(current), _mps_view(mps_plan.desired))
    manifest = snapshot.get('manifest')
    if manifest:
        previous = files.current(manifest['backup']) if manifest['existed'] else None
        if manifest['existed'] and previous is None:
            raise FileError('restore: the backup %s of %s is gone; the manifest cannot be put back'
                            % (manifest['backup'], manifest['path']))
        tracker.add('manifest', files.fingerprint(files.current(manifest['path'])), files.fingerprint(previous))
    if check_mode or not tracker.changed:
        return tracker
    if mps_plan is not None and mps_plan.action in (mps_daemon.STOP, mps_daemon.RESTART):
        control.stop()
    if changes:
        gpu_modes.apply(session, handles, changes)
    if mps_plan is not None and request['state'] == mps_daemon.STARTED:
        control = control.using_log_directory(request['log_directory'])
        current = mps_daemon.read(control, request['log_directory'], devices)
        mps_daemon.apply(control, current, mps_daemon.plan(current, request, visible, devices), visible)
    if manifest and tracker.has_difference_for('manifest'):
        files.put_back(manifest['path'], manifest['backup'] if manifest['existed'] else None)
    return tracker
