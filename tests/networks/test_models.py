"""Model builders and the training loop: structure, inference mode, and that they learn."""

import keras
import numpy as np
import pytest

from bnbook.networks.batchnorm import BatchNorm
from bnbook.networks.models import build_model, cnn, mlp
from bnbook.networks.pipeline import to_inputs
from bnbook.networks.train import evaluate, make_optimizer, make_train_step
from bnbook.runs.config import Config
from bnbook.runs.data import load_mnist


def layers_of(model, kind):
    return [la for la in model.layers if isinstance(la, kind)]


def test_mlp_structure_and_parameter_count():
    model = mlp((1024, 512, 256))
    dense = layers_of(model, keras.layers.Dense)
    assert [d.units for d in dense] == [1024, 512, 256, 10]
    expected = (784 * 1024 + 1024) + (1024 * 512 + 512) + (512 * 256 + 256) + (256 * 10 + 10)
    assert model.count_params() == expected
    assert not layers_of(model, BatchNorm)


def test_batch_norm_sits_between_each_linear_layer_and_its_relu():
    model = mlp((64, 32), batch_norm=True)
    names = [type(la).__name__ for la in model.layers]
    # Our batch-norm layer applies the ReLU itself (one pass over memory less).
    assert names == ["InputLayer", "Flatten", "Dense", "BatchNorm",
                     "Dense", "BatchNorm", "Dense"]  # fmt: skip
    assert [la.activation for la in layers_of(model, BatchNorm)] == ["relu", "relu"]
    hidden = layers_of(model, keras.layers.Dense)[:-1]
    assert all(not d.use_bias for d in hidden)  # beta replaces the bias
    # bias-free weights + gamma and beta per unit + 4 moving statistics per unit (untrained)
    assert model.count_params() == 784 * 64 + 64 * 32 + (32 * 10 + 10) + 4 * (64 + 32)


def test_cnn_structure():
    model = cnn((32, "pool", 64, "pool"), dense=(128,), batch_norm=True)
    convs = layers_of(model, keras.layers.Conv2D)
    assert [c.filters for c in convs] == [32, 64]
    assert len(layers_of(model, BatchNorm)) == 3  # two convolutions and the dense layer
    assert model.output_shape == (None, 10)
    assert len(layers_of(model, keras.layers.MaxPooling2D)) == 2


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model"):
        build_model(Config(model="transformer"))


def test_evaluation_uses_moving_statistics():
    """Trained a few steps, the moving averages differ from the batch statistics;
    evaluate() must then agree with training=False and not with training=True."""
    keras.utils.set_random_seed(0)
    model = mlp((16,), batch_norm=True)
    x = np.random.default_rng(0).uniform(size=(64, 28, 28, 1)).astype("float32") * 3 + 1
    y = np.arange(64) % 10
    loss_inference, _ = evaluate(model, x, y)
    as_inference = keras.losses.sparse_categorical_crossentropy(
        y, model(x, training=False), from_logits=True
    )
    as_training = keras.losses.sparse_categorical_crossentropy(
        y, model(x, training=True), from_logits=True
    )
    assert loss_inference == pytest.approx(float(np.mean(as_inference)), rel=1e-5)
    assert abs(loss_inference - float(np.mean(as_training))) > 1e-3


@pytest.fixture(scope="module")
def small_subset():
    data = load_mnist()
    return to_inputs(data["x_train"][:1024]), data["y_train"][:1024].astype("int32")


@pytest.mark.parametrize(
    "config",
    [
        Config(model="mlp", widths=(128, 64), lr=1e-3),
        Config(model="mlp", widths=(128, 64), lr=1e-3, batch_norm=True),
        Config(model="cnn", widths=(8, "pool"), dense=(32,), lr=1e-3),
        Config(model="cnn", widths=(8, "pool"), dense=(32,), lr=1e-3, batch_norm=True),
    ],
    ids=["mlp", "mlp+bn", "cnn", "cnn+bn"],
)
def test_loss_decreases_on_a_fixed_subset(config, small_subset):
    keras.utils.set_random_seed(0)
    x, y = small_subset
    model = build_model(config)
    step = make_train_step(model, make_optimizer(config, num_steps=200))
    losses = []
    for i in range(200):
        batch = slice((i * 64) % 1024, (i * 64) % 1024 + 64)
        losses.append(float(step(x[batch], y[batch])[0]))
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])


def test_pooling_before_relu_is_the_same_network_without_batch_norm():
    """cnn() pools before the ReLU; without batch norm that is exactly conv -> ReLU -> pool."""
    keras.utils.set_random_seed(0)
    ours = cnn((8, "pool", 16, "pool"), dense=(32,))
    x = keras.Input((28, 28, 1))
    h = x
    for filters in (8, 16):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Dense(32, activation="relu")(keras.layers.Flatten()(h))
    textbook = keras.Model(x, keras.layers.Dense(10)(h))
    textbook.set_weights(ours.get_weights())
    images = np.random.default_rng(0).uniform(size=(16, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(ours(images), textbook(images))


def test_a_pool_must_follow_a_convolution():
    with pytest.raises(ValueError, match="must follow a convolution"):
        cnn(("pool", 8))


def test_batch_norm_placement_before_or_after_pooling():
    """Without batch norm the placement changes nothing; with it, before_pool normalizes
    the full maps (the paper's conv -> BN -> ReLU -> pool) and after_pool the pooled ones."""
    images = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype("float32")
    nets = {}
    for placement in ("after_pool", "before_pool"):
        keras.utils.set_random_seed(0)
        nets[placement] = cnn((8, "pool"), dense=(), placement=placement)
    np.testing.assert_array_equal(nets["after_pool"](images), nets["before_pool"](images))
    shapes = {
        p: cnn((8, "pool"), dense=(), batch_norm=True, placement=p)
        .get_layer("act_in_0")
        .output.shape
        for p in ("after_pool", "before_pool")
    }
    assert shapes["after_pool"][1:3] == (14, 14) and shapes["before_pool"][1:3] == (28, 28)
    with pytest.raises(ValueError, match="placement"):
        cnn((8, "pool"), batch_norm=True, placement="sideways")


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_the_planners_multiply_adds_are_the_built_models(model):
    """architecture.multiply_adds (no TensorFlow) counts what the Keras model computes."""
    from bnbook.networks.architecture import multiply_adds

    config = Config(model=model, widths=(32, 16) if model == "mlp" else (8, "pool", 16, "pool"))
    counted = 0
    for layer in build_model(config).layers:
        if isinstance(layer, keras.layers.Dense):
            counted += layer.kernel.shape.num_elements()
        elif isinstance(layer, keras.layers.Conv2D):
            counted += (
                layer.kernel.shape.num_elements() * layer.output.shape[1] * layer.output.shape[2]
            )
    assert multiply_adds(config) == counted
