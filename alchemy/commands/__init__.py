"""Command handlers, one module per data type or concern.

Importing this package imports every module in it, and each module declares its commands
with `@command`: adding a command touches one module and nothing else.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
