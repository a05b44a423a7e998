#!/usr/bin/env python3
"""Checks a fault-injection run's client history for consistency violations (issue #9).

The harness runs client workloads against a cluster while nemeses kill, pause and partition
nodes, and records every operation. This module reads that record and reports what no correct
ZooKeeper-like service could have produced. It knows nothing about Ferrokeeper, so it checks
runs against the reference ZooKeeper too. Stdlib only.

History format: JSON Lines, one event per line (blank lines are skipped):

    {"process": 3, "type": "invoke", "f": "write", "key": "r1", "value": 5, "time": 1.25}

- ``process``: int, the client that issued the event. The string ``"nemesis"`` marks a fault
  injection note (kill, pause, heal, ...); checkers skip those lines.
- ``type``: ``invoke`` starts an operation; the same process then completes it with ``ok`` (it
  took effect), ``fail`` (it certainly did not) or ``info`` (unknown: timeout, connection
  loss; it may take effect at any later time, or never). As in Jepsen, a process that logged
  ``info`` has crashed: it may log nothing more, and the client continues as a new process id.
  An invoke still open at the end of the file counts as ``info``.
- ``f``: the operation, one of the workload's (see ``WORKLOADS``).
- ``key``: string or null (absent = null). Keys are independent; each is checked on its own.
- ``value``: any JSON (absent = null). For ``read``/``dequeue``/``drain``/``generate`` it is
  what an ``ok`` completion observed; for other operations it is the invoke's argument, which
  the completion either repeats or leaves null.
- ``time``: seconds, a number that never decreases down the file. Line order is the real-time
  order the checkers use: an event on an earlier line happened first.

Workloads and their operation values:

- register: ``read`` (null = absent), ``write`` v, ``cas`` [expected, new]; linearizability,
  checked by a Wing-Gong search as Lowe refined it (memoised on linearized set and state). The
  register starts absent (null).
- set: ``add`` x (unique), ``read`` [x...]; the last ok read is the final read.
- unique-ids: ``generate``, whose ok value is the id (e.g. a sequential znode name).
- counter: ``add`` d (int > 0), ``read`` n; the counter starts at 0.
- queue: ``enqueue`` x (unique), ``dequeue`` (x or null when empty), ``drain`` [x...]. The run
  must end with the queue emptied (a drain, or dequeues until null).

Set and queue elements and ids are ints or strings. A checker returns ``{"workload", "valid",
"ops", "violations", "keys"}``, where ``valid`` is True, False or "unknown" (Jepsen's three
verdicts; "unknown" when the register search ran out of budget or a set was never read) and
``keys`` holds one result per key. CLI exit status: 0 valid, 1 violation, 2 malformed history
or unknown.
"""

import argparse
import bisect
import json
import math
import sys

WORKLOADS = {
    "register": ("read", "write", "cas"),
    "set": ("add", "read"),
    "unique-ids": ("generate",),
    "counter": ("add", "read"),
    "queue": ("enqueue", "dequeue", "drain"),
}
# Operations whose ok completion carries the observed value.
OBSERVERS = frozenset(("read", "dequeue", "drain", "generate"))
# Operations whose argument must be unique so an observed element names exactly one attempt.
UNIQUE_ARGUMENT = {"set": "add", "queue": "enqueue"}
BUDGET_STEPS_DEFAULT = 1_000_000
EVENT_TYPES = ("invoke", "ok", "fail", "info")


class HistoryError(Exception):
    """A malformed history; the message names the offending line."""

    def __init__(self, line, message):
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class Op:
    """One operation: an invoke and its completion. ``complete_index`` is None when the outcome
    is unknown (info), since such an op may take effect arbitrarily late."""

    __slots__ = ("process", "f", "key", "value", "status", "invoke_index", "complete_index",
                 "invoke_line", "complete_line")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields[name])


def describe(op):
    """A human-readable name for an op, with its lines, for violation messages."""
    arrow = " -> " if op.f in OBSERVERS else " "
    value = "" if op.f in OBSERVERS and op.status != "ok" else arrow + json.dumps(op.value)
    if op.complete_line is None:
        where = f"line {op.invoke_line}, never completed"
    else:
        where = f"lines {op.invoke_line}-{op.complete_line}"
    status = "" if op.status == "ok" else f" [{op.status}]"
    return f"process {op.process} {op.f}{value}{status} ({where})"


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_element(x):
    return _is_int(x) or isinstance(x, str)


def _decode(text, line):
    """Parses one line into an event dict with every field present and type-checked."""
    try:
        event = json.loads(text)
    except ValueError as e:
        raise HistoryError(line, f"not valid JSON ({e})") from None
    if not isinstance(event, dict):
        raise HistoryError(line, f"expected a JSON object, got {type(event).__name__}")
    for field in ("process", "type", "f", "time"):
        if field not in event:
            raise HistoryError(line, f"missing field {field!r}")
    process, time = event["process"], event["time"]
    if not (_is_int(process) or process == "nemesis"):
        raise HistoryError(line, f"process must be an int or \"nemesis\", got {process!r}")
    if event["type"] not in EVENT_TYPES:
        raise HistoryError(line, f"type must be one of {EVENT_TYPES}, got {event['type']!r}")
    if not isinstance(event["f"], str):
        raise HistoryError(line, f"f must be a string, got {event['f']!r}")
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
        raise HistoryError(line, f"time must be a finite number, got {time!r}")
    event.setdefault("key", None)
    event.setdefault("value", None)
    if not (event["key"] is None or isinstance(event["key"], str)):
        raise HistoryError(line, f"key must be a string or null, got {event['key']!r}")
    return event


def _validate_value(workload, op):
    """Returns why an op's value does not fit its workload, or None."""
    f, v, ok = op.f, op.value, op.status == "ok"
    if f == "cas" and not (isinstance(v, list) and len(v) == 2):
        return f"cas value must be [expected, new], got {json.dumps(v)}"
    if f in ("add", "enqueue") and workload in ("set", "queue") and not _is_element(v):
        return f"{f} value must be an int or string, got {json.dumps(v)}"
    if workload == "counter" and f == "add" and not (_is_int(v) and v > 0):
        return f"counter add value must be a positive int, got {json.dumps(v)}"
    if workload == "counter" and f == "read" and ok and not _is_int(v):
        return f"counter read value must be an int, got {json.dumps(v)}"
    if f in ("drain", "read") and workload in ("set", "queue") and ok and not (
            isinstance(v, list) and all(_is_element(x) for x in v)):
        return f"{f} value must be a list of ints or strings, got {json.dumps(v)}"
    if f == "dequeue" and ok and not (v is None or _is_element(v)):
        return f"dequeue value must be an int, string or null, got {json.dumps(v)}"
    if f == "generate" and ok and not _is_element(v):
        return f"generate value must be an int or string id, got {json.dumps(v)}"
    return None


def _make_op(workload, invoke, completion):
    """Pairs an invoke (event, line, index) with its completion (same, or None if open)."""
    event, line, index = invoke
    status = "info" if completion is None else completion[0]["type"]
    value = event["value"]
    if event["f"] in OBSERVERS:
        value = completion[0]["value"] if status == "ok" else None
    elif completion is not None and completion[0]["value"] not in (None, value):
        raise HistoryError(completion[1], f"completion value {json.dumps(completion[0]['value'])}"
                                          f" differs from the invoke's {json.dumps(value)}")
    op = Op(process=event["process"], f=event["f"], key=event["key"], value=value,
            status=status, invoke_index=index, invoke_line=line,
            complete_index=completion[2] if status != "info" else None,
            complete_line=completion[1] if completion is not None else None)
    problem = _validate_value(workload, op)
    if problem:
        raise HistoryError(line if completion is None else completion[1], problem)
    return op


def parse_history(lines, workload):
    """Turns JSON Lines into ops sorted by invoke; raises HistoryError on a malformed history."""
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}")
    pending, crashed, ops = {}, {}, []
    time_last = -math.inf
    for line, text in enumerate(lines, 1):
        if not text.strip():
            continue
        event = _decode(text, line)
        if event["time"] < time_last:
            raise HistoryError(line, f"time {event['time']} is before the previous {time_last}")
        time_last = event["time"]
        process = event["process"]
        if process == "nemesis":
            continue
        if process in crashed:
            raise HistoryError(line, f"process {process} crashed with info on line "
                                     f"{crashed[process]}; later ops need a new process id")
        if event["f"] not in WORKLOADS[workload]:
            raise HistoryError(line, f"unknown f {event['f']!r} for workload {workload} "
                                     f"(expected one of {', '.join(WORKLOADS[workload])})")
        if event["type"] == "invoke":
            if process in pending:
                raise HistoryError(line, f"process {process} invokes again while its op from "
                                         f"line {pending[process][1]} is still in flight")
            pending[process] = (event, line, line)
            continue
        if process not in pending:
            raise HistoryError(line, f"{event['type']} for process {process} without an invoke")
        invoke = pending.pop(process)
        for field in ("f", "key"):
            if event[field] != invoke[0][field]:
                raise HistoryError(line, f"completion {field} {event[field]!r} does not match "
                                         f"the invoke's {invoke[0][field]!r} (line {invoke[1]})")
        if event["type"] == "info":
            crashed[process] = line
        ops.append(_make_op(workload, invoke, (event, line, line)))
    ops.extend(_make_op(workload, invoke, None) for invoke in pending.values())
    ops.sort(key=lambda op: op.invoke_index)
    _check_unique_arguments(workload, ops)
    return ops


def _check_unique_arguments(workload, ops):
    f, seen = UNIQUE_ARGUMENT.get(workload), {}
    for op in ops:
        if op.f == f:
            first = seen.setdefault((op.key, op.value), op)
            if first is not op:
                raise HistoryError(op.invoke_line, f"{f} of {json.dumps(op.value)} repeats "
                                                   f"line {first.invoke_line}; must be unique")


def load_history(path, workload):
    with open(path, encoding="utf-8") as file:
        return parse_history(file, workload)


# ---- register: linearizability by a Wing-Gong-Lowe search ----

def _freeze(value):
    """Values compare as canonical JSON text: hashable, exact (true != 1), and printable."""
    return json.dumps(value, sort_keys=True)


def _register_step(state, op):
    """The sequential register: returns (whether op can happen in state, state after)."""
    f, a, b = op
    if f == "read":
        return a == state, state
    if f == "write":
        return True, a
    return a == state, b


def _wgl(ops, budget_steps):
    """Searches for a linearization of ok and info ops (info ops may also never happen).

    Returns (verdict, detail): True, False with the deepest stuck point, or "unknown" when the
    budget runs out. Call and return entries sit in a linked list in real-time order; a call is
    tried from the head only while no return precedes it, and linearizing an op unlinks both its
    entries, so every order tried respects real time. Info ops have no return entry.
    """
    model = [(op.f, _freeze(op.value), None) if op.f != "cas"
             else ("cas", _freeze(op.value[0]), _freeze(op.value[1])) for op in ops]
    events = sorted([(op.invoke_index, i, True) for i, op in enumerate(ops)]
                    + [(op.complete_index, i, False) for i, op in enumerate(ops)
                       if op.complete_index is not None])
    end = len(events) + 1
    # Entry 0 is the head; entries 1..n follow the events; `end` means no entry.
    nxt, prv = list(range(1, end + 1)), list(range(-1, end - 1))
    op_of = [-1] + [i for _, i, _ in events]
    is_call = [False] + [call for _, _, call in events]
    ret_of = [end] * end
    call_entry = {op_of[e]: e for e in range(1, end) if is_call[e]}
    for e in range(1, end):
        if not is_call[e]:
            ret_of[call_entry[op_of[e]]] = e

    def unlink(e):
        nxt[prv[e]] = nxt[e]
        if nxt[e] != end:
            prv[nxt[e]] = prv[e]

    def relink(e):
        nxt[prv[e]] = e
        if nxt[e] != end:
            prv[nxt[e]] = e

    required = sum(op.status == "ok" for op in ops)
    done, linearized, state, steps = 0, 0, _freeze(None), 0
    stack, seen = [], set()
    deepest = {"depth": -1, "op": None, "states": set()}
    entry = nxt[0]
    while done < required:
        steps += 1
        if steps > budget_steps:
            return "unknown", {"steps": steps}
        if entry == end or not is_call[entry]:
            # A required op returned before we could linearize it: undo the latest choice.
            _note_stuck(deepest, len(stack), op_of[entry] if entry != end else None, state)
            if not stack:
                return False, dict(deepest, steps=steps)
            entry, state = stack.pop()
            i = op_of[entry]
            linearized ^= 1 << i
            done -= ops[i].status == "ok"
            if ret_of[entry] != end:
                relink(ret_of[entry])
            relink(entry)
            entry = nxt[entry]
            continue
        i = op_of[entry]
        possible, state_next = _register_step(state, model[i])
        memo = (linearized | 1 << i, state_next)
        if possible and memo not in seen:
            seen.add(memo)
            stack.append((entry, state))
            linearized, state = memo
            done += ops[i].status == "ok"
            unlink(entry)
            if ret_of[entry] != end:
                unlink(ret_of[entry])
            entry = nxt[0]
        else:
            entry = nxt[entry]
    assert bin(linearized).count("1") >= required, "every ok op is linearized on success"
    return True, {"steps": steps}


def _note_stuck(deepest, depth, op_index, state):
    """Keeps the deepest point where the search got stuck, for the violation message."""
    if depth > deepest["depth"]:
        deepest.update(depth=depth, op=op_index, states={state})
    elif depth == deepest["depth"] and op_index == deepest["op"] and len(deepest["states"]) < 5:
        deepest["states"].add(state)


def _new_value(op):
    return op.value if op.f == "write" else op.value[1]


def _prune_unobserved(ops):
    """Drops indeterminate writes and cas ops whose new value no read or cas ever expects.

    Sound and complete: in any linearization, the op right after such an op X can be neither a
    read nor a cas of X's value, so it is a write, or nothing: the order without X is legal too.
    Timed-out writes during a partition are mostly of this kind, and each one kept would double
    the configurations the search may visit.
    """
    while True:
        observed = {_freeze(op.value) for op in ops if op.f == "read"}
        observed |= {_freeze(op.value[0]) for op in ops if op.f == "cas"}
        kept = [op for op in ops if op.status == "ok" or _freeze(_new_value(op)) in observed]
        if len(kept) == len(ops):
            return kept
        ops = kept


def _never_written(ops):
    """Reads and cas ops that expect a value nothing wrote: certain violations, found cheaply
    before the search (which would have to exhaust every order to reject them)."""
    written = {_freeze(_new_value(op)) for op in ops if op.f != "read"} | {_freeze(None)}
    return [f"not linearizable: {describe(op)} expects {json.dumps(expected)}, which no write "
            f"or cas ever wrote" for op in ops if op.status == "ok" and op.f != "write"
            for expected in [op.value if op.f == "read" else op.value[0]]
            if _freeze(expected) not in written]


def _check_register_key(ops, budget_steps):
    # A failed op certainly did not happen, and an unfinished read constrains nothing.
    candidates = _prune_unobserved(
        [op for op in ops if op.status == "ok" or (op.status == "info" and op.f != "read")])
    result = {"valid": False, "ops": len(ops), "violations": _never_written(candidates),
              "steps": 0, "indeterminate": sum(op.status == "info" for op in ops)}
    if result["violations"]:
        return result
    verdict, detail = _wgl(candidates, budget_steps)
    result.update(valid=verdict, steps=detail["steps"])
    if verdict == "unknown":
        result["note"] = (f"search budget of {budget_steps} steps ran out; "
                          "rerun with a larger --budget")
    elif verdict is False:
        result["violations"].append(_explain_register(candidates, detail))
    return result


def _explain_register(ops, detail):
    required = sum(op.status == "ok" for op in ops)
    if detail["op"] is None:
        return "not linearizable"
    op = ops[detail["op"]]
    held = ", ".join(sorted(detail["states"]))
    return (f"not linearizable: {describe(op)} fits no order consistent with real time; "
            f"in the longest consistent order found ({detail['depth']} of {required} ok "
            f"ops placed) the register held {held}")


# ---- set, unique-ids, counter, queue ----

def _check_set_key(ops):
    """The final (last ok) read must hold every add acknowledged before it began and every
    element an earlier read saw; adds still running when it began may be missing."""
    adds = {op.value: op for op in ops if op.f == "add"}
    reads = sorted((op for op in ops if op.f == "read" and op.status == "ok"),
                   key=lambda op: op.complete_index)
    result = {"valid": True, "ops": len(ops), "violations": [], "ok": 0, "lost": 0,
              "unexpected": 0, "duplicated": 0, "recovered": 0, "concurrent_absent": 0}
    result["ok"] = sum(op.status == "ok" for op in adds.values())
    bad = result["violations"]
    for read in reads:
        bad.extend(_check_observed(read, read.value, adds, "add", result))
    if not reads:
        if result["ok"]:
            result.update(valid="unknown", note="no ok read to check the acknowledged adds")
        return result
    final = reads[-1]
    present = set(final.value)
    # Anything an earlier read saw must still be there, whatever its add's outcome.
    seen_before = {x: r for r in reads if r.complete_index < final.invoke_index for x in r.value}
    for value, op in adds.items():
        if value in present:
            result["recovered"] += op.status == "info"
        elif value in seen_before:
            result["lost"] += 1
            bad.append(f"lost: {json.dumps(value)} was read by {describe(seen_before[value])} "
                       f"but is missing from the final read ({describe(final)})")
        elif op.status == "ok" and op.complete_index < final.invoke_index:
            result["lost"] += 1
            bad.append(f"lost: {describe(op)} was acknowledged before the final read "
                       f"({describe(final)}) began, which lacks it")
        elif op.status == "ok":
            result["concurrent_absent"] += 1
    result["valid"] = not bad
    return result


def _check_observed(reader, values, attempts, verb, counts):
    """Violations in one observation of a collection: duplicates, elements never attempted,
    elements whose attempt failed, and elements observed before their attempt was invoked."""
    violations, seen = [], set()
    for value in values:
        attempt = attempts.get(value)
        if value in seen:
            counts["duplicated"] += 1
            violations.append(f"duplicate: {json.dumps(value)} appears twice in "
                              f"{describe(reader)}")
        elif attempt is None:
            counts["unexpected"] += 1
            violations.append(f"invented: {describe(reader)} observed {json.dumps(value)}, "
                              f"which no {verb} ever tried")
        elif attempt.status == "fail":
            counts["unexpected"] += 1
            violations.append(f"{describe(reader)} observed {json.dumps(value)}, whose "
                              f"{describe(attempt)} failed")
        elif reader.complete_index < attempt.invoke_index:
            counts["unexpected"] += 1
            violations.append(f"{describe(reader)} observed {json.dumps(value)} before its "
                              f"{describe(attempt)} began")
        seen.add(value)
    return violations


def _check_unique_ids_key(ops):
    owners = {}
    for op in ops:
        if op.status == "ok":
            owners.setdefault(op.value, []).append(op)
    duplicates = {v: o for v, o in owners.items() if len(o) > 1}
    violations = [f"duplicate id {json.dumps(v)} returned to "
                  + "; ".join(describe(op) for op in o) for v, o in duplicates.items()]
    return {"valid": not violations, "ops": len(ops), "violations": violations,
            "ok": sum(len(o) for o in owners.values()), "distinct": len(owners),
            "duplicated": len(duplicates)}


def _check_counter_key(ops):
    """Each ok read lies between what certainly happened before it began and what possibly
    happened before it ended; both bounds are prefix sums over the sorted adds."""
    acked = sorted((op.complete_index, op.value) for op in ops
                   if op.f == "add" and op.status == "ok")
    tried = sorted((op.invoke_index, op.value) for op in ops
                   if op.f == "add" and op.status != "fail")
    acked_sums, tried_sums = [0], [0]
    for _, delta in acked:
        acked_sums.append(acked_sums[-1] + delta)
    for _, delta in tried:
        tried_sums.append(tried_sums[-1] + delta)
    reads = [op for op in ops if op.f == "read" and op.status == "ok"]
    violations = []
    for read in reads:
        lower = acked_sums[bisect.bisect_left(acked, (read.invoke_index,))]
        upper = tried_sums[bisect.bisect_left(tried, (read.complete_index,))]
        assert lower <= upper, f"bounds {lower} > {upper}: every acked add was also tried"
        if not lower <= read.value <= upper:
            violations.append(f"{describe(read)} must lie in [{lower}, {upper}]: acknowledged "
                              f"adds finished before it sum to {lower}, and adds that could "
                              f"have happened before it ended sum to {upper}")
    return {"valid": not violations, "ops": len(ops), "violations": violations,
            "reads": len(reads), "acked": len(acked), "indeterminate": len(tried) - len(acked)}


def _check_queue_key(ops):
    """Each ok enqueue is taken exactly once by a dequeue or the drain. FIFO order and empty
    dequeues are not checked."""
    enqueues = {op.value: op for op in ops if op.f == "enqueue"}
    takers = [(op, op.value) for op in ops
              if op.f == "dequeue" and op.status == "ok" and op.value is not None]
    takers += [(op, x) for op in ops if op.f == "drain" and op.status == "ok" for x in op.value]
    result = {"valid": True, "ops": len(ops), "violations": [], "lost": 0, "unexpected": 0,
              "duplicated": 0, "recovered": 0, "dequeued": len(takers),
              "ok": sum(op.status == "ok" for op in enqueues.values())}
    bad, taken = result["violations"], {}
    for taker, value in takers:
        if value in taken:
            result["duplicated"] += 1
            bad.append(f"duplicate: {json.dumps(value)} taken by {describe(taken[value])} "
                       f"and again by {describe(taker)}")
            continue
        taken[value] = taker
        bad.extend(_check_observed(taker, [value], enqueues, "enqueue", result))
    result["recovered"] = sum(op.status == "info" and v in taken for v, op in enqueues.items())
    missing = [op for v, op in enqueues.items() if op.status == "ok" and v not in taken]
    # An unfinished dequeue may have taken one element, and an unfinished drain any number.
    absorbed = math.inf if any(op.f == "drain" and op.status == "info" for op in ops) else sum(
        op.f == "dequeue" and op.status == "info" for op in ops)
    if len(missing) > absorbed:
        result["lost"] = len(missing) - absorbed
        shown = ", ".join(describe(op) for op in missing[:10])
        bad.append(f"lost: {len(missing)} acknowledged enqueues were never dequeued and only "
                   f"{absorbed} unfinished dequeues could have taken them: {shown}"
                   + (" ..." if len(missing) > 10 else ""))
    result["valid"] = not bad
    return result


def check(workload, ops, budget_steps=BUDGET_STEPS_DEFAULT):
    """Checks parsed ops key by key and combines the verdicts (False beats unknown)."""
    per_key = {
        "register": lambda key_ops: _check_register_key(key_ops, budget_steps),
        "set": _check_set_key, "unique-ids": _check_unique_ids_key,
        "counter": _check_counter_key, "queue": _check_queue_key,
    }[workload]
    by_key = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    keys = []
    for key in sorted(by_key, key=lambda k: (k is not None, k or "")):
        keys.append(dict(key=key, **per_key(by_key[key])))
    verdicts = [k["valid"] for k in keys]
    valid = False if False in verdicts else "unknown" if "unknown" in verdicts else True
    violations = [f"key {json.dumps(k['key'])}: {v}" for k in keys for v in k["violations"]]
    return {"workload": workload, "valid": valid, "ops": len(ops), "violations": violations,
            "keys": keys}


def check_register(ops, budget_steps=BUDGET_STEPS_DEFAULT):
    return check("register", ops, budget_steps)


def check_set(ops):
    return check("set", ops)


def check_unique_ids(ops):
    return check("unique-ids", ops)


def check_counter(ops):
    return check("counter", ops)


def check_queue(ops):
    return check("queue", ops)


def exit_status(result):
    return {True: 0, False: 1}.get(result["valid"], 2)


def _verdict_word(valid):
    return {True: "valid", False: "INVALID"}.get(valid, "UNKNOWN")


def format_summary(result):
    lines = [f"workload {result['workload']}: {result['ops']} ops, {len(result['keys'])} keys"]
    for k in result["keys"]:
        counts = ", ".join(f"{name} {value}" for name, value in k.items()
                           if name not in ("key", "valid", "violations", "note"))
        lines.append(f"  key {json.dumps(k['key'])}: {_verdict_word(k['valid'])} ({counts})")
        lines.extend(f"    - {v}" for v in k["violations"])
        if "note" in k:
            lines.append(f"    note: {k['note']}")
    lines.append(f"result: {_verdict_word(result['valid'])} "
                 f"({len(result['violations'])} violations)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument("history", help="JSON Lines history file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--budget", type=int, default=BUDGET_STEPS_DEFAULT,
                        help="register search steps per key before giving up (unknown)")
    args = parser.parse_args(argv)
    try:
        ops = load_history(args.history, args.workload)
    except HistoryError as e:
        print(f"{args.history}:{e.line}: malformed history: {e.message}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as e:
        print(f"{args.history}: cannot read: {e}", file=sys.stderr)
        return 2
    result = check(args.workload, ops, args.budget)
    print(json.dumps(result, indent=2) if args.json else format_summary(result))
    return exit_status(result)


if __name__ == "__main__":
    sys.exit(main())
