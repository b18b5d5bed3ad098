"""A Dask cluster on this machine as the README starts one: TLS, the project's certificates."""

import subprocess
from pathlib import Path

from bnbook.paths import PROJECT_ROOT
from bnbook.tooling import cluster_access


def make_certs(folder: Path) -> Path:
    """`make cluster-certs` into `folder` (a new authority each time)."""
    script = PROJECT_ROOT / "scripts" / "cluster-certs.sh"
    subprocess.run(["bash", script, folder], check=True, capture_output=True, timeout=60)
    return folder


def tls_cluster(certs: Path, n_workers=1, processes=True):
    """A `distributed.LocalCluster` whose scheduler and workers use `certs`, TLS only."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=processes,
        host="127.0.0.1",
        protocol="tls://",
        security=cluster_access.security(certs),
        dashboard_address=None,
    )
