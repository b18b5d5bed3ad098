"""Problems 1-3: the derivations and their checks.

`reference` holds the NumPy forward/backward pairs (float64) that are the
answers; `autodiff` the same computations differentiated by tf.GradientTape;
`gradcheck` compares the two and central differences; `graphs` describes the
computational graphs (values, ops, local derivatives, the gradients sent back),
which presentation.graph_drawing draws.
"""
