"""The overall progress bar."""

from bnbook.tooling import progress


def test_time_left_scales_by_work_not_by_runs():
    assert progress.time_left(10.0, done_work=1.0, total_work=4.0) == 30.0
    assert progress.time_left(10.0, 0.0, 4.0) is None
    # 1 of 2 runs done, but 1/4 of the work: between 10 s (by count) and 30 s (by work)
    assert progress.time_left(10.0, 1.0, 4.0, done_runs=1, total_runs=2) == 20.0
    with progress.OverallBar([1.0, 3.0], file=open("/dev/null", "w")) as bar:
        bar.done(1.0)
        assert bar.bar.n == 1 and bar.done_work == 1.0
