"""Sphinx configuration for numopt's documentation."""

import numopt

project = "numopt"
author = "the numopt developers"
copyright = "2026, the numopt developers"
release = numopt.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
]

autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
intersphinx_mapping = {}
exclude_patterns = ["_build", "generated/*.inc"]
templates_path = []
html_theme = "pydata_sphinx_theme"
html_title = "numopt"
html_theme_options = {"navigation_with_keys": False}


def _plain_scikit_learn_references(app, what, name, obj, options, lines):
    # methods the estimators inherit from scikit-learn (score, set_output, ...) carry
    # :ref: links into scikit-learn's own documentation: keep their text
    import re

    if (getattr(obj, "__module__", None) or "").startswith("sklearn"):
        lines[:] = [re.sub(r":ref:`([^`<]*?)\s*<[^`>]+>`", r"\1", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _plain_scikit_learn_references)
