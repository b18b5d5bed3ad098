"""The training workers: one process per core (or GPU), each run's expected cost.

Each worker has its device, one TensorFlow thread and its own progress-bar line
under the overall bar (tooling.training_schedule decides what runs when). Ctrl-C
or SIGTERM in the build stops every worker at once (a half-trained run is lost;
finished records stay), and a record that comes back keyed on other code than
the build's stops the build. A worker holds the build's lock and ends with the
build, even one killed by `kill -9` (tooling.build_lock).
"""

import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time

from bnbook.tooling import build_lock
from bnbook.tooling.progress import OverallBar

STOP_SECONDS = 5  # after Ctrl-C/SIGTERM, workers get this long before they are killed


def _init_worker(positions, lock_fd) -> None:
    """A training worker: its device, one TensorFlow thread, its own progress-bar line
    (line 0 is the overall bar), no Ctrl-C; it holds the build's lock and ends with
    the build.

    Ctrl-C reaches the whole process group; the build's main process alone
    handles it (it stops the workers), so a worker never goes on to its next run.
    `lock_fd`: this process's copy of the lock's descriptor (build_lock.HandedDown),
    left open for the worker's life, so no build starts while it still writes.
    """
    _end_with_the_build()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _BAR_POSITION, _LOCK_FD
    _LOCK_FD = lock_fd  # never closed: the lock is released when this process ends
    _BAR_POSITION = positions.get()
    from bnbook.runs.experiments import loaded_source_digest
    from bnbook.tooling.workers import configure_worker

    configure_worker(_BAR_POSITION - 1)  # device, quiet start-up, TRAIN_THREADS threads

    loaded_source_digest()  # the code this worker runs is the code its records are keyed on


def _end_with_the_build() -> None:
    """Exit as soon as the build's process ends, even by `kill -9`.

    Else an orphaned worker finishes its run and then waits forever for the next,
    holding the build lock. We watch the pipe multiprocessing keeps to the parent
    (its sentinel reads end-of-file when the parent is gone): it works on every
    POSIX system and, unlike prctl(PR_SET_PDEATHSIG), does not fire when the thread
    that started the worker ends while the build goes on.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=lambda: (parent.join(), os._exit(1)), daemon=True).start()


def _train_in_worker(config):
    from bnbook.runs.experiments import train_and_store

    return train_and_store(config, bar_position=_BAR_POSITION)


def estimated_work(config) -> float:
    """Rough cost of a run (multiply-adds), to start the longest runs first."""
    from bnbook.networks.architecture import multiply_adds
    from bnbook.runs.config import total_steps
    from bnbook.runs.profiles import current_profile

    steps = total_steps(config, current_profile())
    return steps * (3 * config.batch_size * multiply_adds(config) + 1.5e7)  # + per-step overhead


def stop_workers(pool) -> None:
    """Stop every worker now (a half-trained run is lost; finished records stay).

    Futures are not cancelled: the pool marks them broken itself, and a cancelled
    one makes its manager thread print a traceback (CPython 3.11).
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=False)


class Runs:
    """The runs handed to a pool: the overall bar, and the check of each record's key.

    One process per core, each with one TensorFlow thread: this network's small
    ops (batch norm's element-wise passes, a 100-unit MLP) do not use a second
    core, so two single-threaded runs side by side finish sooner than two runs
    one after the other on two threads; the convolutions run as fast either way.
    """

    def __init__(self, source: str):
        self.source, self.bar = source, OverallBar([])

    def submit(self, pool, config):
        """Start `config` on `pool`; its future."""
        self.bar.add(estimated_work(config))
        return self.bar.track(pool.submit(_train_in_worker, config), estimated_work(config))

    def check(self, record: dict, config) -> None:
        """Stop the build if `record` came back keyed on other code than the build's."""
        from bnbook.runs.experiments import record_key
        from bnbook.runs.profiles import current_profile
        from bnbook.runs.provenance import TRAIN_THREADS

        if record["key"] != record_key(config, current_profile(), self.source, TRAIN_THREADS):
            raise SystemExit(
                "error: the training code changed while this build ran; the runs "
                "trained so far are kept under the code that made them. Run the build again."
            )

    def close(self) -> None:
        self.bar.close()


def worker_pool(workers: int):
    """(a pool of `workers` training processes, a `Runs` to submit to it)."""
    from bnbook.runs.experiments import TRAINING_MODULES
    from bnbook.runs.provenance import source_digest

    print(f"training on {workers} worker(s)", flush=True)
    context = multiprocessing.get_context("spawn")
    positions = context.Queue()
    for i in range(workers):
        positions.put(i + 1)
    pool = concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(positions, build_lock.HandedDown()),
    )
    return pool, Runs(source_digest(TRAINING_MODULES))


def train_as_they_come(workers: int, runnable, finished: set) -> None:
    """Keep `workers` processes busy: start what `runnable(running)` lists, ask again as
    each run finishes (adding it to `finished`), until nothing runs."""
    pool, runs = worker_pool(workers)
    running = {}
    try:
        while True:
            for config in runnable(set(running.values())):
                running[runs.submit(pool, config)] = config
            if not running:
                break
            done, _ = concurrent.futures.wait(running, return_when="FIRST_COMPLETED")
            for future in done:
                runs.check(future.result(), running[future])  # a worker's error: here
                finished.add(running.pop(future))
    except BaseException:
        stop_workers(pool)
        raise
    finally:
        runs.close()
    pool.shutdown()


def train_missing(configs, force: bool, workers: int, scheduler: str | None = None) -> None:
    """Train every config of a known list whose record is not stored (all, with `force`),
    longest first, on local workers or a Dask cluster."""
    from bnbook.runs.experiments import stored_record

    todo = list(dict.fromkeys(c for c in configs if force or stored_record(c) is None))
    todo.sort(key=estimated_work, reverse=True)  # longest first: the workers finish together
    if not todo:
        return
    if scheduler:  # a Dask cluster instead of local processes (tooling/cluster.py)
        from bnbook.tooling.cluster import train_on_cluster

        return train_on_cluster(todo, scheduler, work_of=estimated_work)
    batches = iter([todo])  # all at once, then nothing more
    train_as_they_come(max(1, min(workers, len(todo))), lambda running: next(batches, []), set())
