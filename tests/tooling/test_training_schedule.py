"""The build's scheduler: the plan as a graph, no worker idle while a run can start."""

import concurrent.futures
import threading
import time

from bnbook.runs import plan
from bnbook.tooling import training_pool, training_schedule
from tests.runs.test_method import fake_record


class FakeRuns:
    """Stands in for training_pool.Runs: 'trains' a run by storing a fake record."""

    def __init__(self, store, log, decide):
        self.store, self.log, self.decide = store, log, decide
        self.running, self.lock = 0, threading.Lock()

    def submit(self, pool, config):
        self.log.append(("submit", config, time.monotonic()))

        def train():
            with self.lock:
                self.running += 1
            time.sleep(0.002)
            self.store[config] = fake_record(config, self.decide(config))
            with self.lock:
                self.running -= 1
            self.log.append(("finish", config, time.monotonic()))
            return self.store[config]

        return pool.submit(train)

    def check(self, record, config):
        pass

    def close(self):
        pass


def decide(c):  # the plain MLP is clearly better at 3e-3: its own-best runs join the plan
    return 0.99 if (c.model == "mlp" and not c.batch_norm and c.lr == 3e-3) else 0.95


def test_runs_start_as_soon_as_what_they_need_is_stored(monkeypatch):
    store, log = {}, []
    runs = FakeRuns(store, log, decide)
    pool = concurrent.futures.ThreadPoolExecutor(2)
    monkeypatch.setattr(training_pool, "worker_pool", lambda workers: (pool, runs))
    trained = set()
    training_schedule._train_as_graph(store.get, trained, 2)
    assert plan.resolve(store.get).complete() and trained == set(store)
    submitted = [c for what, c, _ in log if what == "submit"]
    assert len(submitted) == len(set(submitted)) == len(store)  # each run once
    own = set(plan.resolve(store.get).configs["mlp_own_best"])
    first_own = min(t for what, c, t in log if what == "submit" and c in own)
    # No round barrier: the own-best runs started while other studies' runs were still
    # training or waiting, not after everything else had finished.
    still_to_finish = [c for what, c, t in log if what == "finish" and t > first_own
                       and c not in own]  # fmt: skip
    assert own and still_to_finish


def test_runs_that_decide_a_study_go_first():
    resolved = plan.resolve(lambda c: None)
    order = training_schedule.next_runs(resolved, set())
    deciding = training_schedule.deciding_runs(resolved)
    first = order[: len(deciding)]
    assert set(first) == deciding
    assert set(order) == set(resolved.missing())
