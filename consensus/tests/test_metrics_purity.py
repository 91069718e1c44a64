"""consensus.metrics must import with Django unconfigured and pull in no Django module."""

import subprocess
import sys


def test_metrics_package_imports_without_django():
    # given a fresh interpreter with no settings module
    code = (
        "import os, sys, pkgutil, importlib\n"
        "os.environ.pop('DJANGO_SETTINGS_MODULE', None)\n"
        "import consensus.metrics as m\n"
        "for info in pkgutil.iter_modules(m.__path__):\n"
        "    importlib.import_module(f'consensus.metrics.{info.name}')\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
        "{'django', 'rest_framework', 'annotations', 'labelhub'})\n"
        "print(','.join(bad))\n"
    )
    # when the package and all its modules are imported
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # then nothing from Django or the apps was loaded
    assert result.stdout.strip() == ""
