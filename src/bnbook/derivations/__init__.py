"""Problems 1-3: the derivations and their checks.

`reference` holds the NumPy forward/backward pairs (float64) that are the
answers; `autodiff` the same computations differentiated by tf.GradientTape;
`gradcheck` compares the two and central differences; `graphs` draws the
computational graphs (forward and backward).
"""
