"""Timing on a shared machine: a stopwatch, interleaved repeats, medians of paired ratios.

Timings on a shared machine are noisy, so the variants of a measurement are
interleaved within each repeat, and each ratio is the median over repeats of
the ratio of the two timings in that repeat: drift in the load of other jobs
largely cancels. Wall time is the target; process CPU time is reported too,
since when other jobs hold the cores wall time mostly measures waiting.
"""

import statistics
import time
from functools import partial


def clock():
    """A stopwatch: call it to start, call what it returns for (wall s, process CPU s) since."""
    wall, cpu = time.perf_counter(), time.process_time()
    return lambda: (time.perf_counter() - wall, time.process_time() - cpu)


def medians(samples, baseline):
    """{name: [seconds per repeat]} -> ({name: median}, {name: median of ratios to baseline})."""
    median = {name: statistics.median(s) for name, s in samples.items()}
    ratio = {
        name: statistics.median(t / t0 for t, t0 in zip(s, samples[baseline], strict=True))
        for name, s in samples.items()
    }
    return median, ratio


def interleaved(runs, repeats):
    """Run each callable of `runs` once per repeat; each returns (wall, cpu) seconds.

    The order alternates between repeats (forward, backward), so that no
    variant always runs first, or always after the same one.
    Returns ({name: [wall s per repeat]}, {name: [process CPU s per repeat]}).
    """
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for repeat in range(repeats):
        for name in list(runs)[:: 1 if repeat % 2 == 0 else -1]:
            run = runs[name]
            w, c = run()
            wall[name].append(w)
            cpu[name].append(c)
    return wall, cpu


def summary(wall, cpu, scale, baseline):
    """Medians of wall and CPU times times `scale`, and medians of paired ratios to `baseline`."""
    wall = {name: [t * scale for t in s] for name, s in wall.items()}
    cpu = {name: [t * scale for t in s] for name, s in cpu.items()}
    wall_median, wall_ratio = medians(wall, baseline)
    cpu_median, cpu_ratio = medians(cpu, baseline)
    return {"ms": wall_median, "ratio": wall_ratio, "cpu_ms": cpu_median, "cpu_ratio": cpu_ratio}


def time_steps(run, steps, steps_per_repeat, repeats, warmup):
    """Warm up, then time interleaved, each of `steps` ({name: step}; the first: the baseline).

    run(step, num_steps) -> (wall s, CPU s) runs `num_steps` steps of `step`.
    Returns the dict of `summary` per step: ms, ratio, cpu_ms, cpu_ratio.
    """
    for step in steps.values():
        run(step, warmup)
    runs = {name: partial(run, step, steps_per_repeat) for name, step in steps.items()}
    return summary(*interleaved(runs, repeats), 1e3 / steps_per_repeat, next(iter(steps)))
