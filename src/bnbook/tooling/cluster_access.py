"""Who may reach the build's Dask cluster: TLS only, with the certificates of `make
cluster-certs`.

Scheduler, workers and the build each present the one node certificate that the
folder's own authority signed, and accept only peers that do (mutual TLS; the
authority's key was deleted after signing). Without that folder nobody can
connect to the scheduler, submit code to the workers or send results to the
build: Dask moves functions and results as pickles, so an open port would run
anybody's code.
"""

import re
from pathlib import Path

from bnbook.paths import PROJECT_ROOT, env_dir

CERTS_ENV_VAR = "BNBOOK_CLUSTER_CERTS"
CERT_FILES = ("ca.pem", "node.pem", "node-key.pem")
CONNECT_TIMEOUT_S = 30
ADDRESS = re.compile(r"^tls://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


def address_problem(address: str) -> str | None:
    """Why `address` is no scheduler address this build can use, or None if it is."""
    if address.startswith("tcp://"):
        return (
            f"{address!r} is unencrypted: the cluster runs with TLS only; start it as README "
            "'A Dask cluster' says and pass tls://HOST:PORT"
        )
    match = ADDRESS.match(address)
    if not match or not 0 < int(match["port"]) < 65536:
        return f"{address!r} is not of the form tls://HOST:PORT"
    return None


def certs_dir() -> Path:
    """The folder of the cluster's certificates: $BNBOOK_CLUSTER_CERTS, else cluster-certs/."""
    return env_dir(CERTS_ENV_VAR, PROJECT_ROOT / "cluster-certs")


def security(certs: Path | None = None):
    """Dask's `Security` with the node certificate in every role (the build is a client;
    tests start schedulers and workers with it too); only peers the CA signed."""
    from distributed import Security

    certs = Path(certs or certs_dir())
    missing = [name for name in CERT_FILES if not (certs / name).is_file()]
    if missing:
        raise SystemExit(
            f"error: {', '.join(missing)} missing in {certs}: run `make cluster-certs` and "
            "copy the folder to every cluster machine (README, 'A Dask cluster')"
        )
    ca, cert, key = (str(certs / name) for name in CERT_FILES)
    roles = {f"tls_{role}_{part}": path for role in ("client", "scheduler", "worker")
             for part, path in (("cert", cert), ("key", key))}  # fmt: skip
    return Security(tls_ca_file=ca, require_encryption=True, **roles)


def connect(address: str, certs: Path | None = None):
    """A Dask `Client` of the scheduler at `address`, over mutual TLS; one line if refused."""
    from distributed import Client

    problem = address_problem(address)
    if problem:
        raise SystemExit(f"error: {problem}")
    try:
        return Client(address, security=security(certs), timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as e:  # refused, unreachable, or our certificate refused
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SystemExit(
            f"error: no Dask scheduler at {address} accepted this build within "
            f"{CONNECT_TIMEOUT_S} s ({reason}); is it running, with the certificates of "
            f"{certs or certs_dir()}?"
        ) from None
