"""Packages of the five source roots, all under the ``hotline`` namespace.

``proto/`` holds the contract: its generated code (``hotline.v1``) and the rules both
sides follow that the ``.proto`` files cannot state (``hotline.contract``); ``server/``
the service (``hotline.server``), ``client/`` the participant's client library
(``hotline.client``), ``cli/`` the ``hotline`` command (``hotline.cli``) and
``testing/`` what the tests and benchmarks share (``hotline.testing``).
"""

from setuptools import find_namespace_packages, setup

ROOTS = ("proto", "server", "client", "cli", "testing")

packages: list[str] = []
package_dir: dict[str, str] = {}
for root in ROOTS:
    for package in find_namespace_packages(root, include=["hotline.*"]):
        packages.append(package)
        package_dir[package] = f"{root}/{package.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
