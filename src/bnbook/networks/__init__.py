"""Problem 4: the networks and how they learn.

`batchnorm` is our Keras layer trained with Problem 3's gradient; `models`
builds the MLPs and CNNs with batch norm on or off; `train` is the training
step written out with GradientTape, the loop around it and evaluation.
"""
