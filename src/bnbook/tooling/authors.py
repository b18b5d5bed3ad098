"""Who handed the book in: the author and collaborator, set once.

They live in `_config.yml` (`author`, and `sphinx.config.bnbook_collaborator`);
`make book AUTHOR="..." COLLABORATOR="..."` overrides them through the
environment variables below, which the Sphinx extension (tooling/pages.py) and
the single-notebook PDF (book/latex/nbconvert_pdf.py) both read. While either is
still the placeholder the build says, in one line, what to set; it does not fail.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from bnbook.paths import PROJECT_ROOT

PLACEHOLDERS = {"author": "Student Name", "collaborator": "Collaborator Name"}
ENV_VARS = {"author": "BNBOOK_AUTHOR", "collaborator": "BNBOOK_COLLABORATOR"}
MAKE_VARS = {"author": "AUTHOR", "collaborator": "COLLABORATOR"}
CONFIG_KEYS = {"author": "author", "collaborator": "sphinx.config.bnbook_collaborator"}


def from_config(path: Path = PROJECT_ROOT / "_config.yml") -> dict[str, str]:
    """The names as `_config.yml` sets them."""
    config = yaml.safe_load(path.read_text()) or {}
    sphinx_config = (config.get("sphinx") or {}).get("config") or {}
    return {
        "author": str(config.get("author") or ""),
        "collaborator": str(sphinx_config.get("bnbook_collaborator") or ""),
    }


def resolve(names: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`names` with each one the environment sets (non-empty) taking precedence."""
    return {role: (environ.get(ENV_VARS[role]) or "").strip() or names[role] for role in names}


def book_names(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The names the build puts on the title page: `_config.yml`, then the environment."""
    return resolve(from_config(), environ)


def unset(names: Mapping[str, str]) -> list[str]:
    """The roles still empty or at their placeholder."""
    return [role for role, name in names.items() if name.strip() in ("", PLACEHOLDERS[role])]


def placeholder_warning(names: Mapping[str, str]) -> str | None:
    """One line saying exactly what to set, or None when both names are real."""
    missing = unset(names)
    if not missing:
        return None
    make = " ".join(f'{MAKE_VARS[role]}="..."' for role in missing)
    keys = " and ".join(CONFIG_KEYS[role] for role in missing)
    return (
        f"warning: the title page still shows a placeholder {' and '.join(missing)}; "
        f"set {'them' if len(missing) > 1 else 'it'} with `make book {make}` "
        f"or in _config.yml ({keys})"
    )
