# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet GPU report as one self-contained HTML page.

Plain Python, no Ansible imports. Inline CSS, script and SVG only: the page names no URL at all
and its Content-Security-Policy forbids every fetch, so it opens offline and leaks nothing.
Every string that comes from a device or the inventory goes through ``html.escape``.

The per-GPU table (``<table id="gpus">``, one ``<tr class="gpu">`` per GPU) sorts on a click on
a column header (numbers as numbers, unknown values last); ``#sort=<column>`` or
``#sort=-<column>`` in the address sorts on load, so a headless browser can check it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from html import escape

from ansible_collections.edge_gpu.sharing.plugins.module_utils.report import MIB

STRATEGY_ORDER = ('mps', 'time_slicing', 'none', 'unknown')

# (data-col, header, numeric): the table's columns in order.
COLUMNS = (
    ('device', 'Device', False), ('gpu', 'GPU', True), ('model', 'Model', False), ('sharing', 'Sharing', False),
    ('drift', 'Drift', False), ('util', 'Utilization min/mean/max %', True), ('mem_util', 'Memory util. %', True),
    ('memory', 'Memory used MiB', True), ('reserved', 'Reserved MiB', True), ('total', 'Total MiB', True),
    ('compute_mode', 'Compute mode', False), ('mps', 'MPS daemon', False), ('processes', 'Processes', True),
    ('temperature', 'Temp. C', True), ('power', 'Power W', True), ('headroom', 'Headroom %', True),
)

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1f24;background:#fff}
h1{margin:0 0 .2em}h2{margin:1.4em 0 .5em}.meta{color:#57606a;margin:0 0 1em}
.cards{display:flex;flex-wrap:wrap;gap:.8em}.card{border:1px solid #d0d7de;border-radius:6px;padding:.6em 1em;min-width:9em}
.card b{display:block;font-size:1.6em}.card small{color:#57606a}
table{border-collapse:collapse;font-size:12px}th,td{border-bottom:1px solid #e5e8eb;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}#gpus td{white-space:nowrap}#gpus th{cursor:pointer;user-select:none}
#gpus th[aria-sort=ascending]::after{content:" \\25B2"}#gpus th[aria-sort=descending]::after{content:" \\25BC"}
.n{text-align:right;white-space:nowrap}.d1{background:#fff1f0}.na{color:#8c959f}
.b{position:relative;display:inline-block;width:70px;height:8px;background:#e5e8eb;margin-right:4px}
.b i{position:absolute;left:0;top:0;bottom:0;background:#7fb2e5}.b i.r{background:#b8a1e3}
.b s{position:absolute;top:-2px;bottom:-2px;width:2px;background:#0a3069}
.p{display:block;white-space:nowrap}.t{font-family:monospace}
.chart{overflow-x:auto;border:1px solid #d0d7de;border-radius:6px;padding:4px;margin-bottom:1em}
svg text{font-size:10px;fill:#57606a}.u{fill:#7fb2e5}.m{fill:#0a3069}.mu{fill:#2da44e}.mr{fill:#b8a1e3}.h{fill:#bf8700}
.ax{stroke:#8c959f;stroke-width:1}ul.adv{margin:0;padding-left:1.2em}
"""

# No comment and no string in here may hold two slashes: the page must not look like it names a URL.
_SCRIPT = """
(function(){
var table=document.getElementById('gpus');if(!table||!table.tHead)return;
var body=table.tBodies[0],heads=table.tHead.rows[0].cells;
function value(row,i,num){var c=row.cells[i],v=c.getAttribute('data-v');if(v===null)v=c.textContent;
if(num){var n=parseFloat(v);return isNaN(n)?null:n;}return v;}
function sortBy(spec){var desc=spec.charAt(0)==='-',col=desc?spec.slice(1):spec,idx=-1,num=false,i;
for(i=0;i<heads.length;i++){heads[i].removeAttribute('aria-sort');
if(heads[i].getAttribute('data-col')===col){idx=i;num=heads[i].getAttribute('data-type')==='num';}}
if(idx<0)return;heads[idx].setAttribute('aria-sort',desc?'descending':'ascending');
var rows=Array.prototype.slice.call(body.rows),keyed=rows.map(function(r,n){return [value(r,idx,num),n,r];});
keyed.sort(function(a,b){var x=a[0],y=b[0];if(x===null||x==='')return (y===null||y==='')?a[1]-b[1]:1;
if(y===null||y==='')return -1;var c=num?x-y:(x<y?-1:(x>y?1:0));if(c===0)return a[1]-b[1];return desc?-c:c;});
var frag=document.createDocumentFragment();keyed.forEach(function(k){frag.appendChild(k[2]);});body.appendChild(frag);}
function fromHash(){var m=/^#sort=(-?[a-z_]+)$/.exec(window.location.hash);if(m)sortBy(m[1]);}
Array.prototype.forEach.call(heads,function(h){h.addEventListener('click',function(){
var col=h.getAttribute('data-col'),now=h.getAttribute('aria-sort');
window.location.hash='sort='+(now==='ascending'?'-':'')+col;});});
window.addEventListener('hashchange',fromHash);fromHash();
})();
"""


def _text(value):
    """A string from a device or the inventory, escaped for HTML text and attributes."""
    return escape('' if value is None else str(value), quote=True)


def _number(value, digits=1):
    """A number as the page shows it: ``12.5``, ``40`` (``40.0``), empty for unknown."""
    if value is None:
        return ''
    if isinstance(value, float):
        text = ('%.' + str(digits) + 'f') % value
        return text.rstrip('0').rstrip('.') if '.' in text else text
    return str(value)


def _num(value, digits=1):
    """``_number``, escaped (a report read back from JSON may hold anything where a number belongs)."""
    return _text(_number(value, digits))


def _mib(value):
    return '' if value is None else str(value // MIB)


def _cell(text, sort=None, numeric=False, css=None):
    attrs = ''
    if sort is not None:
        attrs += ' data-v="%s"' % _text(sort)
    classes = ' '.join(c for c in ('n' if numeric else '', css or '') if c)
    if classes:
        attrs += ' class="%s"' % classes
    return '<td%s>%s</td>' % (attrs, text)


def _na(text='n/a'):
    return '<span class="na">%s</span>' % text


def _pct(value):
    return max(0.0, min(100.0, float(value)))


def _util_cell(gpu):
    window = gpu.get('utilization_sampled')
    if window and window.get('gpu'):
        low, mean, high = window['gpu']['min'], window['gpu']['mean'], window['gpu']['max']
        track = '<span class="b"><i style="left:%s%%;width:%s%%"></i><s style="left:%s%%"></s></span>' % (
            _num(_pct(low)), _num(_pct(high) - _pct(low)), _num(_pct(mean)))
        return _cell('%s%s/%s/%s' % (track, _num(low), _num(mean), _num(high)), mean, True)
    instant = gpu.get('utilization')
    if instant and instant.get('gpu') is not None:
        track = '<span class="b"><s style="left:%s%%"></s></span>' % _num(_pct(instant['gpu']))
        return _cell('%snow %s' % (track, _num(instant['gpu'])), instant['gpu'], True)
    return _cell(_na(), '', True)


def _mem_util_cell(gpu):
    window = gpu.get('utilization_sampled')
    if window and window.get('memory'):
        part = window['memory']
        return _cell('%s/%s/%s' % (_num(part['min']), _num(part['mean']), _num(part['max'])), part['mean'], True)
    instant = gpu.get('utilization')
    if instant and instant.get('memory') is not None:
        return _cell('now %s' % _num(instant['memory']), instant['memory'], True)
    return _cell(_na(), '', True)


def _memory_cells(gpu):
    memory = gpu.get('memory')
    if not memory:
        return _cell(_na(), '', True) * 3
    total, used, reserved = memory.get('total'), memory.get('used'), memory.get('reserved')
    if total and used is not None:
        track = '<span class="b"><i style="width:%s%%"></i>%s</span>' % (
            _num(100.0 * used / total), '' if not reserved else '<i class="r" style="left:%s%%;width:%s%%"></i>' % (
                _num(100.0 * used / total), _num(100.0 * reserved / total)))
        used_cell = _cell(track + _mib(used), used, True)
    else:
        used_cell = _cell(_mib(used) if used is not None else _na(), '' if used is None else used, True)
    reserved_cell = _cell(_mib(reserved), reserved, True) if reserved is not None else _cell(_na(), '', True)
    return used_cell + reserved_cell + _cell(_mib(total), total, True)


def _daemon(row):
    """The MPS control daemon as it is, with its defaults; what converging would change, if anything."""
    actual = (row.get('actual') or {}).get('mps_daemon') or {}
    mps = (row.get('intended') or {}).get('mps') or {}
    defaults = []
    if mps.get('running') and mps.get('default_active_thread_percentage') is not None:
        defaults.append('threads %s %%' % _num(mps['default_active_thread_percentage']))
    limits = [(device, limit) for device, limit in sorted((mps.get('default_pinned_device_mem_limit') or {}).items())
              if limit]
    if mps.get('running') and limits:
        defaults.append('pinned %s' % ', '.join('%s=%s' % (_text(device), _text(limit)) for device, limit in limits))
    running = actual.get('running')
    if running is None:
        text = _na('unknown')
    elif running:
        text = 'running (pid %s)' % _text(actual.get('pid'))
    else:
        text = 'not running'
    if mps and bool(mps.get('running')) != bool(running):
        text += '<span class="p">intended: %s</span>' % ('running' if mps.get('running') else 'stopped')
    if defaults:
        # The gpu_sharing module's mps is the daemon as converging leaves it: its defaults now
        # when the device is not drifted, the intended ones otherwise.
        text += '<span class="p">defaults%s: %s</span>' % ('' if row.get('drift') is False else ' (intended)',
                                                           '; '.join(defaults))
    return text


def _processes(gpu):
    processes = gpu.get('processes')
    if processes is None:
        return _cell(_na(), '', True)
    if not processes:
        return _cell('0', 0, True)
    counts = {}
    parts = []
    for process in processes:
        kind = process.get('type') or '?'
        counts[kind] = counts.get(kind, 0) + 1
        used = process.get('used_memory')
        share = process.get('utilization') or {}
        parts.append('<span class="p">%s %s%s%s</span>' % (
            _text(kind), _text(process.get('name') or 'pid %s' % process.get('pid')),
            '' if used is None else ' %s MiB' % _mib(used),
            '' if share.get('sm') is None else ', SM %s %%' % _num(share['sm'])))
    head = ', '.join('%d %s' % (counts[kind], _text(kind)) for kind in sorted(counts))
    return _cell('%s%s' % (head, ''.join(parts)), len(processes))


def _gpu_row(row, gpu, daemon):
    drift = row.get('drift')
    drift_text = 'yes' if drift else ('no' if drift is False else 'unknown')
    return ''.join([
        '<tr class="gpu%s">' % (' d1' if drift else ''),
        _cell(_text(row['name'])),
        _cell(_text(gpu['index']), None, True),
        _cell(_text(gpu.get('name') or 'unknown')),
        _cell(_text(gpu.get('strategy') or 'unknown')),
        _cell(drift_text),
        _util_cell(gpu),
        _mem_util_cell(gpu),
        _memory_cells(gpu),
        _cell(_text(gpu.get('compute_mode') or 'unknown')),
        _cell(daemon),
        _processes(gpu),
        _cell(_num(gpu.get('temperature')), None, True),
        _cell(_num(gpu.get('power_draw')), None, True),
        _cell(_num(gpu.get('headroom')), None, True),
        '</tr>',
    ])


def _cards(report):
    summary = report['summary']
    by_strategy = summary.get('gpus_by_strategy') or {}
    strategies = [key for key in STRATEGY_ORDER if key in by_strategy] + sorted(
        key for key in by_strategy if key not in STRATEGY_ORDER)
    mean = summary.get('mean_utilization')
    cards = [
        ('Devices', summary['devices'], '%s reached, %d unreachable, %d without GPU' % (_text(
            summary['reachable']), len(summary['unreachable']), len(summary['gpuless']))),
        ('GPUs', summary['gpus'], ', '.join('%s %s' % (_text(key), _text(by_strategy[key])) for key in strategies)
         or 'none'),
        ('Mean utilization', 'n/a' if mean is None else '%s %%' % _number(mean),
         'sampled over %s s' % _num(report['sample_seconds']) if report.get('sample_seconds') else 'instant readings'),
        ('Out of intended mode', len(summary['drifted']), ', '.join(_text(name) for name in summary['drifted'][:6])
         + (' and %d more' % (len(summary['drifted']) - 6) if len(summary['drifted']) > 6 else '') or 'none'),
        ('Advice', summary.get('advice', 0), 'see the devices below'),
    ]
    return '<section class="cards">%s</section>' % ''.join(
        '<div class="card"><small>%s</small><b>%s</b><small>%s</small></div>' % (title, _text(value), note)
        for title, value, note in cards)


def _bar_chart(title, items, height=120, gap=2, unit='%', top=100.0, css='u'):
    """Vertical bars: ``items`` = [(label, value or None, extra SVG (same x) or None, short label)].

    A few bars are wide and named below the axis; a large fleet gets narrow bars (the label is
    then the bar's tooltip) in a chart that scrolls sideways.
    """
    width_each = max(6, min(48, 900 // max(1, len(items)) - gap))
    named = width_each >= 16
    bottom = 70 if named else 20
    width = max(200, len(items) * (width_each + gap) + 40)
    scale = (height - 10) / float(top or 1)
    parts = ['<svg width="%d" height="%d" role="img" aria-label="%s">' % (width, height + bottom, _text(title)),
             '<line class="ax" x1="30" y1="%d" x2="%d" y2="%d"></line>' % (height, width, height),
             '<text x="0" y="12">%s%s</text><text x="0" y="%d">0</text>' % (_num(top), unit, height)]
    for number, (label, value, extra, short) in enumerate(items):
        x = 32 + number * (width_each + gap)
        if named:
            parts.append('<text transform="translate(%d,%d) rotate(-40)" text-anchor="end">%s</text>' % (
                x + width_each // 2 + 3, height + 12, short))
        if value is None:
            continue
        h = max(0.5, value * scale)
        parts.append('<rect class="%s" x="%d" y="%s" width="%d" height="%s"><title>%s</title></rect>%s' % (
            css, x, _num(height - h), width_each, _num(h), label, extra(x, scale, height, width_each) if extra else ''))
    parts.append('</svg>')
    return '<h3>%s</h3><div class="chart">%s</div>' % (_text(title), ''.join(parts))


def _charts(report):
    gpus = [(row, gpu) for row in report['devices'] for gpu in row['gpus']]
    util, memory = [], []
    for row, gpu in gpus:
        name = '%s GPU %d' % (_text(row['name']), gpu['index'])
        short = '%s/%d' % (_text(row['name']), gpu['index'])
        window = gpu.get('utilization_sampled')
        instant = gpu.get('utilization') or {}
        if window and window.get('gpu'):
            low, mean, high = window['gpu']['min'], window['gpu']['mean'], window['gpu']['max']

            def whisker(x, scale, height, each, low=low, high=high):
                return '<rect class="m" x="%d" y="%s" width="2" height="%s"></rect>' % (
                    x + each // 2 - 1, _num(height - high * scale), _num(max(0.5, (high - low) * scale)))
            util.append(('%s: mean %s %%, min %s, max %s' % (name, _num(mean), _num(low), _num(high)), mean, whisker, short))
        elif instant.get('gpu') is not None:
            util.append(('%s: now %s %%' % (name, _num(instant['gpu'])), instant['gpu'], None, short))
        else:
            util.append((name, None, None, short))
        mem = gpu.get('memory') or {}
        if mem.get('total') and mem.get('used') is not None:
            used = 100.0 * mem['used'] / mem['total']
            reserved = 100.0 * (mem.get('reserved') or 0) / mem['total']

            def stacked(x, scale, height, each, used=used, reserved=reserved):
                if not reserved:
                    return ''
                return '<rect class="mr" x="%d" y="%s" width="%d" height="%s"></rect>' % (
                    x, _num(height - (used + reserved) * scale), each, _num(reserved * scale))
            memory.append(('%s: %s of %s MiB used, %s reserved' % (
                name, _mib(mem['used']), _mib(mem['total']),
                'n/a' if mem.get('reserved') is None else '%s MiB' % _mib(mem['reserved'])), used, stacked, short))
        else:
            memory.append((name, None, None, short))
    devices = [(('%s: %s %% of a GPU free' % (_text(row['name']), _num(row['headroom']))), row['headroom'], None,
                _text(row['name'])) for row in report['devices']]
    top = max([value for _label, value, _extra, _short in devices if value is not None] or [100.0])
    return ''.join([
        '<h2>Charts</h2>',
        _bar_chart('Utilization per GPU (bar: mean; dark line: min to max)', util),
        _bar_chart('Memory per GPU (green: used; violet: reserved; % of total)', memory, css='mu'),
        _bar_chart('Headroom per device (unused GPU time, % of one GPU)', devices, top=max(100.0, top), css='h'),
    ])


def _device_rows(report):
    rows = []
    for row in report['devices']:
        intended = row.get('intended') or {}
        strategies = intended.get('strategies') or {}
        sharing = ', '.join('%s:%s' % (_text(index), _text(strategies[index]))
                            for index in sorted(strategies, key=lambda key: (len(key), key)))
        if not row['reachable']:
            state = '<b>unreachable</b>'
        elif row.get('error'):
            state = 'error'
        elif row.get('available') is False or not row['gpus']:
            state = 'no GPU' + (' (%s)' % _text(row['unavailable_reason']) if row.get('unavailable_reason') else '')
        else:
            state = 'driver %s' % _text(row.get('driver_version') or 'unknown')
        drift = row.get('drift')
        notes = ['<li>%s</li>' % _text(reason) for reason in row.get('drift_reasons') or []]
        advice = ['<li>%s: %s</li>' % (_text(item['kind']), _text(item['message'])) for item in row.get('advice') or []]
        rows.append('<tr class="device%s">%s%s%s%s%s%s%s</tr>' % (
            ' d1' if drift else '', _cell(_text(row['name'])), _cell(state), _cell(str(len(row['gpus'])), None, True),
            _cell(_text(intended.get('platform') or '') + (' ' + sharing if sharing else '')),
            _cell('unknown' if drift is None else ('yes' if drift else 'no')),
            _cell('<ul class="adv">%s</ul>' % ''.join(notes) if notes else ''),
            _cell('<ul class="adv">%s</ul>' % ''.join(advice) if advice else '')))
    return ('<table id="devices"><thead><tr><th>Device</th><th>State</th><th>GPUs</th><th>Intended</th>'
            '<th>Drift</th><th>Why</th><th>Advice</th></tr></thead><tbody>%s</tbody></table>' % ''.join(rows))


def render_html(report):
    """The report as one HTML page (a string); ``report`` is what ``fleet_report.build`` returns."""
    heads = ''.join('<th data-col="%s" data-type="%s">%s</th>' % (col, 'num' if numeric else 'str', title)
                    for col, title, numeric in COLUMNS)
    body = []
    for row in report['devices']:
        daemon = _daemon(row)
        for gpu in row['gpus']:
            body.append(_gpu_row(row, gpu, daemon))
    meta = 'schema version %d' % report['schema_version']
    if report.get('generated'):
        meta = 'generated %s, %s' % (_text(report['generated']), meta)
    return ''.join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
        'script-src \'unsafe-inline\'; img-src data:">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,"><title>GPU fleet report</title><style>', _CSS, '</style></head><body>',
        '<h1>GPU fleet report</h1><p class="meta">%s</p>' % meta,
        _cards(report),
        '<h2>GPUs</h2><p class="meta">Click a column header to sort; unknown values sort last.</p>',
        '<table id="gpus"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (heads, '\n'.join(body)),
        _charts(report),
        '<h2>Devices</h2>', _device_rows(report),
        '<script>', _SCRIPT, '</script></body></html>\n',
    ])
