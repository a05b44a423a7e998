#!/usr/bin/env python3
"""Unit tests for history_check.py: hand-written valid and invalid histories for each workload,
malformed histories, the CLI's exit statuses, and a seeded random test that builds linearizable
register histories from a simulated sequential register and corrupts them.

Run: /usr/bin/python3 tests/py/test_history_check.py (tests/history_check.rs runs it in cargo).
"""

import contextlib
import io
import json
import os
import random
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # Keep tests/py free of __pycache__ when run from cargo.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import history_check as hc  # noqa: E402

RANDOM_SEED = 0x5EED


def lines(*events):
    """JSON lines from (process, type, f, value[, key]) tuples; time is the line number."""
    out = []
    for t, event in enumerate(events):
        process, type_, f, value = event[:4]
        key = event[4] if len(event) > 4 else "k"
        out.append(json.dumps({"process": process, "type": type_, "f": f, "key": key,
                               "value": value, "time": float(t)}))
    return out


def op(process, f, value_in=None, value_out=None, key="k", status="ok"):
    """An invoke immediately followed by its completion."""
    return [(process, "invoke", f, value_in, key), (process, status, f, value_out, key)]


def run(workload, *events, **kwargs):
    return hc.check(workload, hc.parse_history(lines(*events), workload), **kwargs)


class MalformedHistory(unittest.TestCase):
    def assert_malformed(self, workload, text, line, fragment):
        with self.assertRaises(hc.HistoryError) as caught:
            hc.parse_history(text, workload)
        self.assertEqual(caught.exception.line, line)
        self.assertIn(fragment, str(caught.exception))

    def test_completion_without_invoke(self):
        self.assert_malformed("register", lines((1, "ok", "read", 1)), 1, "without an invoke")

    def test_two_invokes_in_flight_on_one_process(self):
        text = lines((1, "invoke", "read", None), (1, "invoke", "write", 2))
        self.assert_malformed("register", text, 2, "still in flight")

    def test_unknown_f(self):
        self.assert_malformed("set", lines(*op(1, "write", 1)), 1, "unknown f 'write'")

    def test_process_reused_after_info(self):
        text = lines(*op(1, "write", 1, status="info"), *op(1, "read"))
        self.assert_malformed("register", text, 3, "crashed with info on line 2")

    def test_bad_json_non_object_and_missing_field(self):
        self.assert_malformed("register", ["{nope"], 1, "not valid JSON")
        self.assert_malformed("register", ["[1, 2]"], 1, "expected a JSON object")
        self.assert_malformed("register", ['{"process": 1, "type": "invoke", "f": "read"}'],
                              1, "missing field 'time'")

    def test_bad_field_types(self):
        event = {"process": 1, "type": "invoke", "f": "read", "key": "k", "time": 0}
        for field, bad in (("process", True), ("type", "done"), ("key", 3), ("time", "x")):
            with self.subTest(field=field):
                self.assert_malformed("register", [json.dumps(dict(event, **{field: bad}))],
                                      1, field)

    def test_time_going_backwards(self):
        text = lines(*op(1, "read"))
        text[1] = text[1].replace('"time": 1.0', '"time": -1.0')
        self.assert_malformed("register", text, 2, "before the previous")

    def test_completion_must_match_invoke(self):
        text = lines((1, "invoke", "read", None), (1, "ok", "write", 1))
        self.assert_malformed("register", text, 2, "completion f")
        text = lines((1, "invoke", "write", 1), (1, "ok", "write", 2))
        self.assert_malformed("register", text, 2, "differs from the invoke")

    def test_values_that_do_not_fit_the_workload(self):
        self.assert_malformed("register", lines(*op(1, "cas", [1])), 2, "[expected, new]")
        self.assert_malformed("counter", lines(*op(1, "add", 0)), 2, "positive int")
        self.assert_malformed("counter", lines(*op(1, "read", None, "7")), 2, "must be an int")
        self.assert_malformed("set", lines(*op(1, "read", None, 3)), 2, "list of ints")
        self.assert_malformed("queue", lines(*op(1, "enqueue", [1])), 2, "int or string")

    def test_repeated_unique_argument(self):
        text = lines(*op(1, "add", 5), *op(2, "add", 5))
        self.assert_malformed("set", text, 3, "repeats line 1")

    def test_open_invoke_counts_as_info_and_nemesis_is_skipped(self):
        text = lines((9, "invoke", "write", 1), ("nemesis", "info", "kill", "n2", None))
        text.insert(1, "")
        [only] = hc.parse_history(text, "register")
        self.assertEqual((only.status, only.complete_index), ("info", None))


class Register(unittest.TestCase):
    def assert_valid(self, *events):
        result = run("register", *events)
        self.assertIs(result["valid"], True, result["violations"])

    def assert_invalid(self, *events, fragment="not linearizable"):
        result = run("register", *events)
        self.assertIs(result["valid"], False)
        self.assertIn(fragment, "\n".join(result["violations"]))
        return result

    def test_sequential_history_is_valid(self):
        self.assert_valid(*op(1, "read", None, None), *op(1, "write", 1), *op(2, "read", None, 1),
                          *op(2, "cas", [1, 2]), *op(1, "read", None, 2))

    def test_stale_read_after_acknowledged_write(self):
        result = self.assert_invalid(*op(1, "write", 1), *op(1, "write", 2),
                                     *op(2, "read", None, 1), fragment="read -> 1")
        self.assertIn("the register held 2", result["violations"][0])

    def test_read_of_a_value_never_written(self):
        self.assert_invalid(*op(1, "write", 1), *op(2, "read", None, 7),
                            fragment="read -> 7 (lines 3-4) expects 7, which no write or cas ever wrote")

    def test_concurrent_writes_may_be_read_in_either_order(self):
        writes_start = [(1, "invoke", "write", 1), (2, "invoke", "write", 2)]
        writes_end = [(1, "ok", "write", 1), (2, "ok", "write", 2)]
        for first, second in ((1, 2), (2, 1)):
            with self.subTest(first=first):
                self.assert_valid(*writes_start, *op(3, "read", None, first),
                                  *op(3, "read", None, second), *writes_end,
                                  *op(3, "read", None, second))

    def test_reads_after_concurrent_writes_must_agree(self):
        self.assert_invalid((1, "invoke", "write", 1), (2, "invoke", "write", 2),
                            (1, "ok", "write", 1), (2, "ok", "write", 2),
                            *op(3, "read", None, 2), *op(3, "read", None, 1))

    def test_info_write_may_take_effect_later_or_never(self):
        self.assert_valid(*op(1, "write", 1, status="info"), *op(2, "read", None, None),
                          *op(2, "read", None, 1), *op(2, "read", None, 1))
        self.assert_valid(*op(1, "write", 1, status="info"), *op(2, "read", None, None))
        self.assert_valid((1, "invoke", "write", 1), *op(2, "read", None, 1))

    def test_info_write_cannot_take_effect_before_its_invoke(self):
        self.assert_invalid(*op(2, "read", None, 1), *op(1, "write", 1, status="info"))

    def test_info_write_cannot_be_undone(self):
        self.assert_invalid(*op(2, "write", 0), *op(1, "write", 1, status="info"),
                            *op(2, "read", None, 1), *op(2, "read", None, 0))

    def test_cas_semantics(self):
        self.assert_valid(*op(1, "write", 1), *op(1, "cas", [1, 2]), *op(2, "read", None, 2))
        self.assert_invalid(*op(1, "write", 1), *op(1, "cas", [3, 2]), fragment="cas [3, 2]")
        self.assert_invalid(*op(1, "write", 1), *op(1, "write", 3), *op(1, "cas", [1, 2]),
                            fragment="cas [1, 2]")
        self.assert_valid(*op(1, "write", 1), *op(1, "cas", [3, 2], status="fail"),
                          *op(2, "read", None, 1))
        self.assert_invalid(*op(1, "write", 1), *op(1, "cas", [1, 2], status="fail"),
                            *op(2, "read", None, 2))
        self.assert_valid(*op(1, "write", 1), *op(1, "cas", [1, 2], status="info"),
                          *op(2, "read", None, 2))

    def test_json_values_compare_exactly(self):
        self.assert_valid(*op(1, "write", {"a": [1, 2]}), *op(2, "read", None, {"a": [1, 2]}))
        self.assert_invalid(*op(1, "write", 1), *op(2, "read", None, True))

    def test_keys_are_checked_independently(self):
        result = run("register", *op(1, "write", 1, key="a"), *op(1, "write", 2, key="b"),
                     *op(2, "read", None, 2, key="a"), *op(2, "read", None, 2, key="b"))
        self.assertIs(result["valid"], False)
        self.assertEqual([(k["key"], k["valid"]) for k in result["keys"]],
                         [("a", False), ("b", True)])
        self.assertTrue(result["violations"][0].startswith('key "a": '))

    def test_search_budget_gives_unknown(self):
        events = [e for p in range(8) for e in [(p, "invoke", "write", p)]]
        events += [e for p in range(8) for e in [(p, "ok", "write", p)]]
        # Reads of 1, 2, 1 need write 1 to land twice: impossible, but only a search shows it.
        events += op(9, "read", None, 1) + op(9, "read", None, 2) + op(9, "read", None, 1)
        result = run("register", *events, budget_steps=50)
        self.assertEqual(result["valid"], "unknown")
        self.assertEqual(hc.exit_status(result), 2)
        self.assertIs(run("register", *events)["valid"], False)


    def test_unobserved_indeterminate_writes_do_not_blow_up_the_search(self):
        # Twenty timed-out writes nobody read would give the search 2^20 subsets to try.
        events = [e for p in range(20) for e in op(p, "write", 100 + p, status="info")]
        events += op(30, "write", 1) + op(30, "write", 2) + op(31, "read", None, 1)
        result = run("register", *events, budget_steps=2000)
        self.assertIs(result["valid"], False, result)


class SetWorkload(unittest.TestCase):
    def test_all_acknowledged_adds_present(self):
        result = run("set", *op(1, "add", 1), *op(2, "add", 2), *op(1, "read", None, [2, 1]))
        self.assertIs(result["valid"], True, result["violations"])
        self.assertEqual(result["keys"][0]["ok"], 2)

    def test_lost_acknowledged_add(self):
        result = run("set", *op(1, "add", 1), *op(2, "add", 2), *op(1, "read", None, [2]))
        self.assertIs(result["valid"], False)
        self.assertEqual(result["keys"][0]["lost"], 1)
        self.assertIn("lost: process 1 add 1", result["violations"][0])

    def test_duplicate_and_invented_elements(self):
        result = run("set", *op(1, "add", 1), *op(1, "read", None, [1, 1, 9]))
        self.assertEqual((result["keys"][0]["duplicated"], result["keys"][0]["unexpected"]),
                         (1, 1))
        text = "\n".join(result["violations"])
        self.assertIn("duplicate: 1", text)
        self.assertIn("invented", text)

    def test_indeterminate_add_may_be_absent_or_present(self):
        absent = run("set", *op(1, "add", 1, status="info"), *op(2, "read", None, []))
        self.assertIs(absent["valid"], True)
        present = run("set", *op(1, "add", 1, status="info"), *op(2, "read", None, [1]))
        self.assertEqual((present["valid"], present["keys"][0]["recovered"]), (True, 1))

    def test_failed_add_must_be_absent(self):
        result = run("set", *op(1, "add", 1, status="fail"), *op(2, "read", None, [1]))
        self.assertIs(result["valid"], False)

    def test_add_concurrent_with_final_read_may_be_absent(self):
        result = run("set", (1, "invoke", "add", 1), *op(2, "read", None, []),
                     (1, "ok", "add", 1))
        self.assertEqual((result["valid"], result["keys"][0]["concurrent_absent"]), (True, 1))

    def test_element_seen_earlier_then_missing_is_lost(self):
        result = run("set", *op(1, "add", 1, status="info"), *op(2, "read", None, [1]),
                     *op(2, "read", None, []))
        self.assertIs(result["valid"], False)

    def test_read_cannot_see_an_add_from_the_future(self):
        self.assertIs(run("set", *op(2, "read", None, [1]), *op(1, "add", 1))["valid"], False)

    def test_no_read_is_unknown(self):
        self.assertEqual(run("set", *op(1, "add", 1))["valid"], "unknown")


class UniqueIds(unittest.TestCase):
    def test_distinct_ids_are_valid_and_duplicates_are_not(self):
        ok = run("unique-ids", *op(1, "generate", None, "n-01"), *op(2, "generate", None, "n-02"),
                 *op(3, "generate", None, None, status="info"))
        self.assertIs(ok["valid"], True)
        bad = run("unique-ids", *op(1, "generate", None, "n-01"),
                  *op(2, "generate", None, "n-01"))
        self.assertIs(bad["valid"], False)
        self.assertIn('duplicate id "n-01"', bad["violations"][0])


class Counter(unittest.TestCase):
    def test_reads_within_bounds_are_valid(self):
        result = run("counter", *op(1, "read", None, 0), *op(1, "add", 2), (2, "invoke", "add", 3),
                     *op(1, "read", None, 5), *op(1, "read", None, 5), (2, "ok", "add", 3))
        self.assertIs(result["valid"], True, result["violations"])

    def test_read_too_low_after_acknowledged_add(self):
        result = run("counter", *op(1, "add", 2), *op(2, "read", None, 1))
        self.assertIs(result["valid"], False)
        self.assertIn("must lie in [2, 2]", result["violations"][0])

    def test_read_too_high_and_indeterminate_adds(self):
        self.assertIs(run("counter", *op(1, "add", 2), *op(2, "read", None, 3))["valid"], False)
        self.assertIs(run("counter", *op(1, "add", 2, status="info"),
                          *op(2, "read", None, 2))["valid"], True)
        self.assertIs(run("counter", *op(1, "add", 2, status="fail"),
                          *op(2, "read", None, 2))["valid"], False)


class Queue(unittest.TestCase):
    def test_dequeued_or_drained_exactly_once_is_valid(self):
        result = run("queue", *op(1, "enqueue", 1), *op(1, "enqueue", 2),
                     *op(2, "dequeue", None, 1), *op(2, "drain", None, [2]),
                     *op(2, "dequeue", None, None))
        self.assertIs(result["valid"], True, result["violations"])

    def test_lost_duplicate_and_invented(self):
        lost = run("queue", *op(1, "enqueue", 1), *op(2, "dequeue", None, None))
        self.assertEqual((lost["valid"], lost["keys"][0]["lost"]), (False, 1))
        dup = run("queue", *op(1, "enqueue", 1), *op(2, "dequeue", None, 1),
                  *op(2, "drain", None, [1]))
        self.assertEqual((dup["valid"], dup["keys"][0]["duplicated"]), (False, 1))
        invented = run("queue", *op(2, "dequeue", None, 4))
        self.assertEqual((invented["valid"], invented["keys"][0]["unexpected"]), (False, 1))

    def test_indeterminate_operations(self):
        self.assertIs(run("queue", *op(1, "enqueue", 1, status="info"),
                          *op(2, "drain", None, []))["valid"], True)
        absorbed = run("queue", *op(1, "enqueue", 1), *op(1, "enqueue", 2),
                       *op(2, "dequeue", None, None, status="info"), *op(3, "drain", None, [2]))
        self.assertIs(absorbed["valid"], True)
        two_missing = run("queue", *op(1, "enqueue", 1), *op(1, "enqueue", 2),
                          *op(2, "dequeue", None, None, status="info"), *op(3, "drain", None, []))
        self.assertEqual(two_missing["keys"][0]["lost"], 1)

    def test_dequeue_before_enqueue_began(self):
        self.assertIs(run("queue", *op(2, "dequeue", None, 1), *op(1, "enqueue", 1))["valid"],
                      False)


class Cli(unittest.TestCase):
    def run_cli(self, text, *args):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("\n".join(text) + "\n")
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = hc.main([*args, f.name])
        finally:
            os.unlink(f.name)
        return status, out.getvalue(), err.getvalue()

    def test_exit_statuses(self):
        valid = lines(*op(1, "write", 1), *op(2, "read", None, 1))
        status, out, _ = self.run_cli(valid, "--workload", "register")
        self.assertEqual(status, 0)
        self.assertIn("result: valid", out)
        invalid = lines(*op(1, "write", 1), *op(2, "read", None, 2))
        status, out, _ = self.run_cli(invalid, "--workload", "register", "--json")
        self.assertEqual((status, json.loads(out)["valid"]), (1, False))
        status, out, err = self.run_cli(["{"], "--workload", "register")
        self.assertEqual((status, out), (2, ""))
        self.assertIn(":1: malformed history: not valid JSON", err)
        self.assertNotIn("Traceback", err)


def random_register_history(rng, processes, ops_per_process, info_rate=0.04):
    """A linearizable register history: each op takes effect at a random instant between its
    invoke and completion (info ops: at any later instant, or never), applied in that order to a
    sequential register. Returns events and per-op records for the corruptions."""
    records, value_next = [], 1
    for slot in range(processes):
        process, t = slot, rng.random()
        for _ in range(ops_per_process):
            f = rng.choice(("read", "read", "write", "cas"))
            arg = None
            if f == "write" or f == "cas":
                new, value_next = value_next, value_next + 1
                arg = new if f == "write" else [rng.choice([None] + list(range(1, new))[-3:]), new]
            start, effect, end = sorted(t + rng.random() * 3 for _ in range(3))
            status = "info" if rng.random() < info_rate else "fail" if rng.random() < 0.03 else "ok"
            if status == "info":
                effect = start + rng.random() * 20 if rng.random() < 0.5 else None
            elif status == "fail":
                effect = None
            records.append({"process": process, "f": f, "arg": arg, "start": start,
                            "effect": effect, "end": end, "status": status, "out": None})
            t = end
            if status == "info":
                process += processes  # Jepsen: a crashed client continues as a new process.
    state = None
    for r in sorted((r for r in records if r["effect"] is not None), key=lambda r: r["effect"]):
        if r["f"] == "read":
            r["out"] = state
        elif r["f"] == "write":
            state = r["arg"]
        elif r["arg"][0] == state:
            state = r["arg"][1]
        elif r["status"] == "ok":
            r["status"] = "fail"  # The cas did not match: the client sees it fail.
    return records


def records_to_lines(records):
    events = []
    for r in records:
        events.append((r["start"], r["process"], "invoke", r["f"], r["arg"]))
        events.append((r["end"], r["process"], r["status"], r["f"],
                       r["out"] if r["f"] == "read" else r["arg"]))
    return [json.dumps({"process": p, "type": t, "f": f, "key": "r", "value": v, "time": time})
            for time, p, t, f, v in sorted(events, key=lambda e: e[0])]


def corrupt(rng, records):
    """Copies records with one change that no linearizable history allows, or returns None."""
    records = [dict(r) for r in records]
    ok = [r for r in records if r["status"] == "ok"]
    reads = [r for r in ok if r["f"] == "read"]
    kind = rng.choice(("never-written", "cas-expected", "stale", "future"))
    if kind == "never-written" and reads:
        rng.choice(reads)["out"] = 10 ** 6
        return kind, records
    if kind == "cas-expected":
        cas = [r for r in ok if r["f"] == "cas"]
        if cas:
            target = rng.choice(cas)
            target["arg"] = [10 ** 6, target["arg"][1]]
            return kind, records
    writes = [r for r in ok if r["f"] == "write"]
    # Each value is written once, so a read cannot see a write that began after it ended.
    future = [(w, read) for w in writes for read in reads if read["end"] < w["start"]]
    if kind == "future" and future:
        w, read = rng.choice(future)
        read["out"] = w["arg"]
        return kind, records
    # Values are unique, so once w2 (acknowledged after w1 ended) lands, w1's value is gone.
    stale = [(w1, read) for w1 in writes for w2 in writes for read in reads
             if w1["end"] < w2["start"] and w2["end"] < read["start"]]
    if not stale:
        return None
    w1, read = rng.choice(stale)
    read["out"] = w1["arg"]
    return "stale", records


class RandomRegisterHistories(unittest.TestCase):
    def test_valid_by_construction_and_corruptions_rejected(self):
        rng = random.Random(RANDOM_SEED)
        rejected, searched = 0, 0
        for trial in range(40):
            records = random_register_history(rng, rng.randint(2, 6), rng.randint(10, 25))
            ops = hc.parse_history(records_to_lines(records), "register")
            result = hc.check("register", ops)
            self.assertIs(result["valid"], True,
                          f"seed {RANDOM_SEED} trial {trial}: {result['violations']}")
            for _ in range(3):
                corrupted = corrupt(rng, records)
                if corrupted is None:
                    continue
                kind, bad = corrupted
                result = hc.check("register", hc.parse_history(records_to_lines(bad), "register"))
                self.assertIs(result["valid"], False, f"seed {RANDOM_SEED} trial {trial}: {kind}")
                rejected += 1
                searched += result["keys"][0]["steps"] > 0
        # Most corruptions must be rejected by the search, not by the never-written pre-check.
        self.assertGreater(rejected, 80, "the corruptions must actually be exercised")
        self.assertGreater(searched, 40, "the search must reject corruptions too")


if __name__ == "__main__":
    unittest.main(verbosity=1)
