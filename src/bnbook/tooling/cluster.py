"""Training on a Dask distributed cluster: `build --scheduler tls://HOST:PORT`.

Each worker trains from its own copy of the project and MNIST and sends the
record back; the build stores it, so no shared file system is needed. Only
machines with the cluster's certificates connect at all (tooling/cluster_access).
A worker is used only if its training code, library versions, device and
numerics are the build's: those make the record key, so anything else would
store a record under a key that does not describe it. Such a worker is refused,
one line each. Every record that comes back must be the run that was submitted
(its key inputs hash to the key the build expects, its config and profile are
the submitted ones, its fields complete), or the build stops.

The build stops with one line if every accepted worker has left for
WORKERS_GONE_S; on Ctrl-C or an error it cancels what is queued and restarts the
accepted workers, so no run goes on training for a build that has ended.
"""

import sys
import time

from bnbook.runs import devices
from bnbook.runs.experiments import TRAINING_MODULES, matches_its_key, record_key, train_record
from bnbook.runs.profiles import current_profile
from bnbook.runs.provenance import TRAIN_THREADS, library_versions, numerics, source_digest
from bnbook.runs.records import RecordError, RecordStore, check_record
from bnbook.tooling.cluster_access import connect
from bnbook.tooling.progress import OverallBar

POLL_S = 2  # how often the build looks at which workers are still there
WORKERS_GONE_S = 60  # no accepted worker for this long: the build stops
STOP_S = 30  # for restarting the workers after Ctrl-C


class WorkerMismatch(RuntimeError):
    """A worker's training code, libraries, device or numerics differ from the build's."""


def identity() -> dict:
    """What must match between the build and a worker (runs on either)."""
    return {
        "source": source_digest(TRAINING_MODULES),
        "versions": library_versions(),
        "device": devices.device_kind(),
        "numerics": numerics(TRAIN_THREADS),
    }


def _differing(worker: dict, build: dict) -> str:
    return ", ".join(sorted(k for k in {**worker, **build} if worker.get(k) != build.get(k)))


def mismatch(worker: dict, build: dict) -> str | None:
    """Why a worker with `worker` identity cannot train for `build`, or None if it can."""
    if worker["source"] != build["source"]:
        return (
            f"training code differs (source digest {worker['source'][:12]}, "
            f"the build's is {build['source'][:12]}): check out the build's commit there"
        )
    if worker["versions"] != build["versions"]:
        diff = _differing(worker["versions"], build["versions"])
        return f"library versions differ ({diff}): run `make setup` there"
    if worker["device"] != build["device"]:
        return f"device is {worker['device']}, the build's is {build['device']}"
    if worker["numerics"] != build["numerics"]:
        diff = _differing(worker["numerics"], build["numerics"])
        return f"numerics differ ({diff}): another CPU, or oneDNN set otherwise there"
    return None


def accepted_workers(identities: dict, build: dict) -> list:
    """The workers whose identity matches; prints one line for each refused one."""
    accepted = []
    for address, worker in sorted(identities.items()):
        reason = mismatch(worker, build)
        if reason:
            print(f"error: refusing Dask worker {address}: {reason}", file=sys.stderr)
        else:
            accepted.append(address)
    return accepted


def _private_python_random() -> None:
    """Give Keras its own Python RNG in this worker.

    Keras seeds Python's global `random` (set_random_seed) and draws the
    initializers' seeds from it; a Dask worker's own threads draw from that
    same generator meanwhile (measured: the first loss of a seeded run changed
    from task to task), so the weights would depend on timing. A private
    generator, seeded by Keras as before, gives the local pool's numbers.
    """
    import random

    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    if not isinstance(rng_utils.random, random.Random):
        rng_utils.random = seed_generator.python_random = random.Random()


def train_remote(config, profile, build: dict) -> dict:
    """On a worker: train `config`; its record with the key inputs of what this worker
    ran (its loaded code, its numerics). Nothing is stored there."""
    reason = mismatch(identity(), build)
    if reason:  # a worker that joined after the check, or was changed since
        raise WorkerMismatch(reason)
    from bnbook.tooling.workers import configure_worker

    configure_worker(0)
    _private_python_random()
    from bnbook.runs.experiments import key_inputs

    inputs = key_inputs(config, profile)  # imports the training code: the code that runs
    return {**train_record(config, profile, progress=False), "key_inputs": inputs}


def checked_result(record, config, profile, build: dict) -> tuple[str, dict]:
    """(key, record) to store for the submitted run `config`, or SystemExit: the record
    must be that run, trained by the build's code with the build's numerics."""
    key = record_key(config, profile, build["source"], TRAIN_THREADS)
    try:
        if not isinstance(record, dict):
            raise RecordError("not a record")
        record = {**record, "key": key}
        check_record(record, key)
        if record["config"] != config.as_dict() or record["profile"] != profile.name:
            raise RecordError("it is the record of another run")
        if not matches_its_key(record):
            raise RecordError("it was trained with other code, settings or numerics")
    except RecordError as e:
        raise SystemExit(
            f"error: a Dask worker returned {config.label()} that is not what was submitted "
            f"({e}); refused. If the workers were started before the code was changed, "
            "restart them."
        ) from None
    return key, record


def finished(client, futures: dict, workers: list):
    """Each (future, result) as it finishes; SystemExit once no accepted worker has been
    connected for WORKERS_GONE_S."""
    from distributed import wait

    pending, alone_since = set(futures), None
    while pending:
        try:
            done = wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            done = set()
        for future in done:
            pending.discard(future)
            yield future, future.result()  # a worker's error is raised here
        present = set(workers) & set(client.scheduler_info(n_workers=-1)["workers"])
        alone_since = None if present else alone_since or time.monotonic()
        if pending and alone_since and time.monotonic() - alone_since > WORKERS_GONE_S:
            raise SystemExit(
                f"error: every accepted Dask worker has left, {len(pending)} runs unfinished; "
                "start workers (README, 'A Dask cluster') and run the build again"
            )


def stop_remote_runs(client, futures: dict, workers: list) -> None:
    """Cancel the runs not finished and restart the workers, which stops those already
    training (a running task cannot be cancelled; needs `dask worker`'s nanny)."""
    unfinished = [f for f in futures if not f.done()]
    if not unfinished:
        return
    print(f"stopping {len(unfinished)} runs on the Dask cluster", file=sys.stderr, flush=True)
    client.cancel(unfinished, force=True)
    try:
        client.restart_workers(workers, timeout=STOP_S, raise_for_error=False)
    except Exception as e:  # workers without a nanny, or already gone
        print(f"note: could not restart the Dask workers ({e}); stop them by hand", file=sys.stderr)


def train_on_cluster(todo, scheduler: str, profile=None, store=None, work_of=None) -> None:
    """Train every config of `todo` on the cluster at `scheduler`; store each record here.

    `work_of(config)`: a run's estimated work, for the overall bar's time left.
    """
    profile = profile or current_profile()
    store = store or RecordStore()
    work_of = work_of or (lambda config: 1.0)
    build = identity()
    with connect(scheduler) as client:
        workers = accepted_workers(client.run(identity), build)
        if not workers:
            raise SystemExit(f"error: no usable Dask worker at {scheduler} (see above)")
        print(f"training {len(todo)} runs on {len(workers)} Dask worker(s)", flush=True)
        futures = {
            client.submit(train_remote, c, profile, build, workers=workers,
                          allow_other_workers=False, pure=False): c
            for c in todo
        }  # fmt: skip
        with OverallBar([work_of(c) for c in todo]) as overall:
            try:
                for future, record in finished(client, futures, workers):
                    config = futures[future]
                    store.put(*checked_result(record, config, profile, build))
                    overall.done(work_of(config))
            except BaseException:
                stop_remote_runs(client, futures, workers)
                raise
