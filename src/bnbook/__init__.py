"""bnbook: the code behind the book on backpropagation and batch normalization.

Every notebook imports from here; nothing a second notebook needs is defined
in a notebook. One concept per module: see DESIGN.md for the map.
"""
