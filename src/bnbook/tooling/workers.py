"""How a training process starts, in the local pool or on a Dask worker.

Before TensorFlow starts: the worker's device (one GPU with memory growth, so
several workers share a machine's GPUs without each grabbing all the memory;
or the CPU) and a quiet start-up. Then TRAIN_THREADS (one) TensorFlow thread
per process on the CPU: the build runs one process per core
(bnbook.tooling.training_pool explains why).
"""

import os

from bnbook.runs import devices
from bnbook.runs.provenance import TRAIN_THREADS
from bnbook.tooling import quiet


def configure_worker(position: int, gpu_list=None) -> dict:
    """Set up this process as training worker `position`; returns the environment it set."""
    env = devices.worker_environment(position, gpu_list)
    os.environ.update(env)
    quiet.install()
    import tensorflow as tf

    # Each run builds its own model and step: tf.function's "retracing" notes are expected.
    tf.get_logger().setLevel("ERROR")
    try:
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
        tf.config.threading.set_intra_op_parallelism_threads(TRAIN_THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(TRAIN_THREADS)
    except RuntimeError:
        pass  # TensorFlow already ran in this process (a reused Dask worker): keep its setup
    return env
