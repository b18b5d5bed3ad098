"""Training on a Dask distributed cluster: `build --scheduler tcp://HOST:PORT`.

The runs go to the cluster through `Client.get_executor()`, the same
`concurrent.futures` interface as the local process pool. Each worker trains
from its own copy of the project and MNIST and sends the record back; the
build stores it, so no shared file system is needed. A worker is used only if
its training code (source digest), library versions and device kind are the
build's: those make the record key, so anything else would store a record
under a key that does not describe it. Such a worker is refused, one line each.
"""

import concurrent.futures
import sys

from bnbook.runs import devices
from bnbook.runs.experiments import TRAINING_MODULES, record_key, train_record
from bnbook.runs.profiles import current_profile
from bnbook.runs.provenance import TRAIN_THREADS, digest, library_versions, source_digest
from bnbook.runs.records import RecordStore
from bnbook.tooling.progress import OverallBar

CONNECT_TIMEOUT_S = 30


class WorkerMismatch(RuntimeError):
    """A worker's training code, libraries or device differ from the build's."""


def identity() -> dict:
    """What must match between the build and a worker (runs on either)."""
    return {
        "source": source_digest(TRAINING_MODULES),
        "versions": library_versions(),
        "device": devices.device_kind(),
    }


def mismatch(worker: dict, build: dict) -> str | None:
    """Why a worker with `worker` identity cannot train for `build`, or None if it can."""
    if worker["source"] != build["source"]:
        return (
            f"training code differs (source digest {worker['source'][:12]}, "
            f"the build's is {build['source'][:12]}): check out the build's commit there"
        )
    if worker["versions"] != build["versions"]:
        diff = sorted(
            k
            for k in {**worker["versions"], **build["versions"]}
            if worker["versions"].get(k) != build["versions"].get(k)
        )
        return f"library versions differ ({', '.join(diff)}): run `make setup` there"
    if worker["device"] != build["device"]:
        return f"device is {worker['device']}, the build's is {build['device']}"
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
    """On a worker: train `config` and return its record (nothing is stored there)."""
    reason = mismatch(identity(), build)
    if reason:  # a worker that joined after the check
        raise WorkerMismatch(reason)
    from bnbook.tooling.workers import configure_worker

    configure_worker(0)
    _private_python_random()
    from bnbook.runs.experiments import key_inputs

    inputs = key_inputs(config, profile)  # what this worker runs: its code, its numerics
    return {**train_record(config, profile, progress=False), "key_inputs": inputs}


def train_on_cluster(todo, scheduler: str, profile=None, store=None, work_of=None) -> None:
    """Train every config of `todo` on the cluster at `scheduler`; store each record here.

    `work_of(config)`: a run's estimated work, for the overall bar's time left.
    """
    from distributed import Client

    profile = profile or current_profile()
    store = store or RecordStore()
    build = identity()
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except OSError as e:
        raise SystemExit(f"error: no Dask scheduler at {scheduler} ({e})") from None
    with client:
        workers = accepted_workers(client.run(identity), build)
        if not workers:
            raise SystemExit(f"error: no usable Dask worker at {scheduler} (see above)")
        print(f"training {len(todo)} runs on {len(workers)} Dask worker(s)", flush=True)
        executor = client.get_executor(workers=workers, allow_other_workers=False, pure=False)
        futures = {executor.submit(train_remote, c, profile, build): c for c in todo}
        work_of = work_of or (lambda config: 1.0)
        with OverallBar([work_of(c) for c in todo]) as overall:
            try:
                for future in concurrent.futures.as_completed(futures):
                    config = futures[future]
                    record = future.result()
                    expected = record_key(config, profile, build["source"], TRAIN_THREADS)
                    if (
                        digest(record["key_inputs"]) != expected
                        or record["key_inputs"]["config"] != config.as_dict()
                    ):
                        raise SystemExit(
                            f"error: a Dask worker returned {config.label()} "
                            "trained with other code or settings; refused"
                        )
                    store.put(expected, record)
                    overall.done(work_of(config))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
