import pytest

from tests.tooling.dask_tls import make_certs


@pytest.fixture(scope="session")
def cluster_certs(tmp_path_factory):
    """The certificates of `make cluster-certs`, made once per session."""
    return make_certs(tmp_path_factory.mktemp("certs") / "cluster-certs")


@pytest.fixture(scope="session")
def foreign_certs(tmp_path_factory):
    """Certificates of another authority: what an outsider's machine would present."""
    return make_certs(tmp_path_factory.mktemp("foreign") / "cluster-certs")


@pytest.fixture
def use_certs(cluster_certs, monkeypatch):
    """The build finds `cluster_certs` where it looks by default."""
    monkeypatch.setenv("BNBOOK_CLUSTER_CERTS", str(cluster_certs))
    return cluster_certs
