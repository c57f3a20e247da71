"""Maps the repository's top-level folders into the one import package ``pycgrates`` (metadata: pyproject.toml).

``engine/`` installs as ``pycgrates.engine``, ``agents/`` as ``pycgrates.agents``; the shipped data folders
(``dictionaries/``, ``templates/``, ``config/``) install as packages of data read through importlib.resources.
``pycgrates`` itself is a namespace package: nothing else is installed at the top level of site-packages.
"""

from setuptools import find_packages, setup

CODE = ("engine", "agents")
DATA = ("dictionaries", "templates", "config")

packages = [f"pycgrates.{top}{'.' + sub if sub else ''}" for top in CODE for sub in ("", *find_packages(top))]
packages += [f"pycgrates.{top}" for top in DATA]

setup(
    packages=packages,
    package_dir={f"pycgrates.{top}": top for top in (*CODE, *DATA)},
    package_data={
        "pycgrates.engine.config": ["*.json"],
        "pycgrates.engine.web": ["static/**/*"],  # the console's pages and vendored assets
        **{f"pycgrates.{top}": ["**/*"] for top in DATA},
    },
    exclude_package_data={f"pycgrates.{top}": ["**/__pycache__/*", "**/*.pyc"] for top in DATA},
)
