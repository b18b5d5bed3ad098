"""Where things are: the package's source and the project around it."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent  # src/bnbook
PROJECT_ROOT = PACKAGE_DIR.parents[1]
